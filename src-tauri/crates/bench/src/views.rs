//! The inspector API as the UI uses it: an authenticated client ([`Inspector`]), what shipwatch
//! says it stored ([`StoreCount`], from `/api/status` and `/api/shipments`), and the latency of each
//! view ([`measure`]): the delivery feed (first and next page), filtered by verdict and by tag,
//! searched by tracking number, by order id, by a substring and for something that is not there,
//! the status, shipments by tag, and shipment and delivery detail. Paths and parameters are those of
//! `docs/api.md`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{ClientError, Conn, REQUEST_TIMEOUT};
use crate::load::percentile;

/// An authenticated keep-alive connection to shipwatch's inspector API.
pub struct Inspector {
    bearer: String,
    conn: Conn,
}

/// A `GET` answered: status, body, latency (request written to answer read).
pub struct Got {
    pub status: u16,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Inspector {
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Inspector, String> {
        let conn =
            Conn::connect(addr).await.map_err(|e| format!("cannot reach the inspector at {addr}: {e}"))?;
        Ok(Inspector { bearer: format!("Bearer {token}"), conn })
    }

    /// A `GET`. A connection the server closed while idle (keep-alive timeout) is reopened and the
    /// request sent once more, untimed until then. No answer within the client's timeout is status
    /// 0 (the next request reconnects).
    pub async fn get(&mut self, path: &str) -> Result<Got, String> {
        let headers = [("authorization", self.bearer.as_str()), ("accept", "application/json")];
        let mut started = Instant::now();
        let mut outcome = self.conn.request("GET", path, &headers, b"", true).await;
        if let Err(ClientError::Closed | ClientError::Io(_)) = outcome {
            self.conn.reconnect().await.map_err(|e| format!("cannot reach the inspector again: {e}"))?;
            started = Instant::now();
            outcome = self.conn.request("GET", path, &headers, b"", true).await;
        }
        match outcome {
            Ok(answer) => Ok(Got { status: answer.status, body: answer.body, elapsed: started.elapsed() }),
            Err(ClientError::Timeout) => Ok(Got { status: 0, body: Vec::new(), elapsed: started.elapsed() }),
            Err(e) => Err(format!("GET {path} on the inspector: {e}")),
        }
    }

    /// A `GET` that must answer 200 with JSON.
    pub async fn get_json(&mut self, path: &str) -> Result<(serde_json::Value, Duration), String> {
        let got = self.get(path).await?;
        if got.status == 0 {
            return Err(format!(
                "GET {path} on the inspector: no answer within {}s",
                REQUEST_TIMEOUT.as_secs()
            ));
        }
        if got.status != 200 {
            return Err(format!(
                "GET {path} on the inspector answered {}: {}",
                got.status,
                String::from_utf8_lossy(&got.body[..got.body.len().min(300)])
            ));
        }
        let value = serde_json::from_slice(&got.body)
            .map_err(|e| format!("GET {path}: the answer is not JSON: {e}"))?;
        Ok((value, got.elapsed))
    }

    /// What shipwatch says it stored.
    pub async fn count(&mut self) -> Result<StoreCount, String> {
        let (status, _) = self.get_json("/api/status").await?;
        let (shipments, _) = self.get_json("/api/shipments?limit=1").await?;
        let number = |field: &str| -> Result<u64, String> {
            status
                .get(field)
                .and_then(|x| x.as_u64())
                .ok_or_else(|| format!("/api/status has no number {field:?}"))
        };
        let counts =
            shipments.get("counts").and_then(|c| c.as_array()).ok_or("/api/shipments has no \"counts\"")?;
        Ok(StoreCount {
            deliveries: number("deliveries_total")?,
            failures_today: number("failures_today")?,
            secret_configured: status.get("secret_configured").and_then(|v| v.as_bool()) == Some(true),
            shipments: counts.iter().filter_map(|c| c.get("count").and_then(|n| n.as_u64())).sum(),
        })
    }
}

/// What shipwatch reports having stored.
#[derive(Clone, Debug, Serialize)]
pub struct StoreCount {
    pub deliveries: u64,
    pub failures_today: u64,
    pub secret_configured: bool,
    pub shipments: u64,
}

/// Which of the latency targets a view answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Lists and detail pages: median < 20 ms.
    View,
    /// Search for a whole tracking number or order id: median < 10 ms.
    Exact,
    /// Search for part of one, or for what is not there: median < 100 ms.
    Substring,
    /// `/api/status`: median < 10 ms.
    Status,
}

/// The latency of one view.
#[derive(Clone, Debug, Serialize)]
pub struct ViewResult {
    pub name: &'static str,
    pub class: Class,
    /// An example of the requests (the first).
    pub path: Option<String>,
    pub requests: usize,
    pub median_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Items in the answers, on average (lists and searches).
    pub mean_items: Option<f64>,
    /// Requests not answered within the client's timeout (their latency counts as that long).
    pub unanswered: usize,
    /// Why it was not measured, or what to know about it.
    pub note: Option<String>,
}

/// Search terms for a checkpoint: shipments that were stored (tracking numbers, order ids), drawn by
/// the caller.
pub struct Terms {
    pub tracking_numbers: Vec<String>,
    pub order_ids: Vec<String>,
}

/// Upper bound on the time spent on one view (after at least [`MIN_REQUESTS`]).
const VIEW_BUDGET: Duration = Duration::from_secs(20);
const MIN_REQUESTS: usize = 3;

/// Times every view, `requests` times each (fewer for a view slower than its budget), one request at
/// a time. Returns the results and the errors (an answer other than 200; a tracking number that was
/// stored but is not found).
pub async fn measure(
    inspector: &mut Inspector,
    terms: &Terms,
    requests: usize,
) -> (Vec<ViewResult>, Vec<String>) {
    let mut errors = Vec::new();
    let mut results = Vec::new();
    let requests = requests.max(1);

    // The cursor of the feed's second page, and ids for the detail views, fetched untimed.
    let cursor = match inspector.get_json("/api/deliveries").await {
        Ok((page, _)) => page.get("next").and_then(|n| n.as_str()).map(str::to_string),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let paths = |f: &dyn Fn(usize) -> String| (0..requests).map(f).collect::<Vec<_>>();
    let tn = |i: usize| terms.tracking_numbers.get(i % terms.tracking_numbers.len().max(1)).cloned();

    results.push(
        time_view(
            inspector,
            "feed, first page",
            Class::View,
            paths(&|_| "/api/deliveries".into()),
            &mut errors,
        )
        .await,
    );
    results.push(match &cursor {
        Some(c) => {
            let path = format!("/api/deliveries?before={}", encode(c));
            time_view(inspector, "feed, next page", Class::View, paths(&|_| path.clone()), &mut errors).await
        }
        None => not_measured("feed, next page", Class::View, "a single page: nothing stored yet"),
    });
    results.push(
        time_view(
            inspector,
            "deliveries: verdict=failed",
            Class::View,
            paths(&|_| "/api/deliveries?verdict=failed".into()),
            &mut errors,
        )
        .await,
    );
    results.push(
        time_view(
            inspector,
            "deliveries: tag=Delivered",
            Class::View,
            paths(&|_| "/api/deliveries?tag=Delivered".into()),
            &mut errors,
        )
        .await,
    );

    // Searches. A stored tracking number must be found; its answers give the detail views' ids.
    let mut delivery_ids: Vec<i64> = Vec::new();
    let mut shipment_ids: Vec<i64> = Vec::new();
    if terms.tracking_numbers.is_empty() {
        results.push(not_measured("search: tracking number", Class::Exact, "no shipment stored yet"));
        results.push(not_measured("search: order id", Class::Exact, "no shipment stored yet"));
        results.push(not_measured("search: substring (6 chars)", Class::Substring, "no shipment stored yet"));
    } else {
        let searches: Vec<(String, String)> = (0..requests)
            .filter_map(|i| tn(i).map(|t| (format!("/api/deliveries?q={}", encode(&t)), t)))
            .collect();
        let mut latencies = Vec::new();
        let mut items = 0usize;
        let mut unanswered = 0;
        let started = Instant::now();
        for (path, number) in &searches {
            match timed(inspector, path).await {
                Ok(Timed::NoAnswer(elapsed)) => {
                    latencies.push(elapsed);
                    unanswered += 1;
                }
                Ok(Timed::Answer(page, elapsed)) => {
                    latencies.push(elapsed);
                    let found = page.get("items").and_then(|i| i.as_array()).cloned().unwrap_or_default();
                    items += found.len();
                    if found.is_empty() {
                        errors.push(format!(
                            "tracking number {number} was stored but GET {path} finds nothing"
                        ));
                    }
                    for item in found.iter().take(3) {
                        delivery_ids.extend(item.get("id").and_then(|v| v.as_i64()));
                        shipment_ids.extend(item.get("shipment_id").and_then(|v| v.as_i64()));
                    }
                }
                Err(e) => errors.push(e),
            }
            if latencies.len() >= MIN_REQUESTS && started.elapsed() > VIEW_BUDGET {
                break;
            }
        }
        results.push(summarise(
            "search: tracking number",
            Class::Exact,
            searches.first().map(|s| s.0.clone()),
            &latencies,
            Some(items),
            unanswered,
        ));

        let order_paths: Vec<String> = (0..requests)
            .filter_map(|i| terms.order_ids.get(i % terms.order_ids.len().max(1)))
            .map(|o| format!("/api/deliveries?q={}", encode(o)))
            .collect();
        results.push(if order_paths.is_empty() {
            not_measured("search: order id", Class::Exact, "no stored shipment has an order id")
        } else {
            time_view(inspector, "search: order id", Class::Exact, order_paths, &mut errors).await
        });
        let substring_paths: Vec<String> = (0..requests)
            .filter_map(|i| tn(i + 7))
            .map(|t| {
                let chars: Vec<char> = t.chars().collect();
                let from = chars.len().saturating_sub(6) / 2;
                let middle: String = chars[from..(from + 6).min(chars.len())].iter().collect();
                format!("/api/deliveries?q={}", encode(&middle))
            })
            .collect();
        results.push(
            time_view(
                inspector,
                "search: substring (6 chars)",
                Class::Substring,
                substring_paths,
                &mut errors,
            )
            .await,
        );
    }
    let nothing = paths(&|i| format!("/api/deliveries?q=zqxj-no-such-parcel-{i:04}"));
    results.push(time_view(inspector, "search: finds nothing", Class::Substring, nothing, &mut errors).await);
    results.push(
        time_view(inspector, "status", Class::Status, paths(&|_| "/api/status".into()), &mut errors).await,
    );
    results.push(
        time_view(
            inspector,
            "shipments: tag=Exception",
            Class::View,
            paths(&|_| "/api/shipments?tag=Exception".into()),
            &mut errors,
        )
        .await,
    );
    results.push(
        time_view(inspector, "home page (desk)", Class::View, paths(&|_| "/api/desk".into()), &mut errors)
            .await,
    );
    results.push(if shipment_ids.is_empty() {
        not_measured("shipment detail", Class::View, "no shipment found")
    } else {
        let p = paths(&|i| format!("/api/shipments/{}", shipment_ids[i % shipment_ids.len()]));
        time_view(inspector, "shipment detail", Class::View, p, &mut errors).await
    });
    results.push(if delivery_ids.is_empty() {
        not_measured("delivery detail", Class::View, "no delivery found")
    } else {
        let p = paths(&|i| format!("/api/deliveries/{}", delivery_ids[i % delivery_ids.len()]));
        time_view(inspector, "delivery detail", Class::View, p, &mut errors).await
    });
    (results, errors)
}

fn not_measured(name: &'static str, class: Class, why: &str) -> ViewResult {
    ViewResult {
        name,
        class,
        path: None,
        requests: 0,
        median_ms: None,
        p99_ms: None,
        max_ms: None,
        mean_items: None,
        unanswered: 0,
        note: Some(why.to_string()),
    }
}

/// Requests `paths` in turn (within the view's time budget); each must answer 200.
async fn time_view(
    inspector: &mut Inspector,
    name: &'static str,
    class: Class,
    paths: Vec<String>,
    errors: &mut Vec<String>,
) -> ViewResult {
    let mut latencies = Vec::with_capacity(paths.len());
    let mut items = None;
    let mut unanswered = 0;
    let started = Instant::now();
    for path in &paths {
        match timed(inspector, path).await {
            Ok(Timed::NoAnswer(elapsed)) => {
                latencies.push(elapsed);
                unanswered += 1;
            }
            Ok(Timed::Answer(value, elapsed)) => {
                latencies.push(elapsed);
                if let Some(list) = value.get("items").and_then(|i| i.as_array()) {
                    *items.get_or_insert(0) += list.len();
                }
            }
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                break;
            }
        }
        if latencies.len() >= MIN_REQUESTS && started.elapsed() > VIEW_BUDGET {
            break;
        }
    }
    summarise(name, class, paths.first().cloned(), &latencies, items, unanswered)
}

/// A timed view request: its JSON answer, or no answer within the client's timeout (a latency of
/// at least that, counted as such: a slow view is a MISS, not an error).
enum Timed {
    Answer(serde_json::Value, Duration),
    NoAnswer(Duration),
}

/// `GET path`, which must answer 200 with JSON, or not at all in time.
async fn timed(inspector: &mut Inspector, path: &str) -> Result<Timed, String> {
    let got = inspector.get(path).await?;
    match got.status {
        0 => Ok(Timed::NoAnswer(got.elapsed)),
        200 => serde_json::from_slice(&got.body)
            .map(|value| Timed::Answer(value, got.elapsed))
            .map_err(|e| format!("GET {path}: the answer is not JSON: {e}")),
        status => Err(format!(
            "GET {path} on the inspector answered {status}: {}",
            String::from_utf8_lossy(&got.body[..got.body.len().min(300)])
        )),
    }
}

fn summarise(
    name: &'static str,
    class: Class,
    path: Option<String>,
    latencies: &[Duration],
    items: Option<usize>,
    unanswered: usize,
) -> ViewResult {
    let mut us: Vec<u32> = latencies.iter().map(|d| d.as_micros().min(u128::from(u32::MAX)) as u32).collect();
    us.sort_unstable();
    let measured = !us.is_empty();
    let answered = us.len() - unanswered;
    ViewResult {
        name,
        class,
        path,
        requests: us.len(),
        median_ms: measured.then(|| percentile(&us, 50.0)),
        p99_ms: measured.then(|| percentile(&us, 99.0)),
        max_ms: us.last().map(|&m| f64::from(m) / 1000.0),
        mean_items: items.filter(|_| answered > 0).map(|n| n as f64 / answered as f64),
        unanswered,
        note: if !measured {
            Some("no answer (see errors)".to_string())
        } else if unanswered > 0 {
            Some(format!(
                "{unanswered} gave no answer within {} s, counted as that long",
                REQUEST_TIMEOUT.as_secs()
            ))
        } else {
            None
        },
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("#1042"), "%231042");
        assert_eq!(encode("1Z4A8W39-x y"), "1Z4A8W39-x%20y");
        assert_eq!(encode("Köln"), "K%C3%B6ln");
    }
}
