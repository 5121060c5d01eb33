//! The inspector API over real HTTP: the listener split (the inspector never takes deliveries, the
//! receiver never serves the API or the UI), the Host check against DNS rebinding, the token (Bearer,
//! `?token=` setting the cookie, the cookie, wrong or none), cross-origin writes refused, the SSE
//! `delivery` event's latency, the delivery list's filters and paging, settings (secrets take effect at
//! once, are never returned, settings.json is 0600, bad values are 400) and the test delivery.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_never_takes_deliveries_and_the_receiver_never_serves_the_api_or_ui() {
    let t = start(Some(SECRET)).await;
    let auth = format!("Bearer {}", t.token);
    // Inspector: a perfectly signed delivery to the webhook path, with the token, is not taken.
    for method in ["POST", "PUT"] {
        let r = request(
            t.inspector,
            method,
            "/webhooks/aftership",
            &[
                ("Authorization", &auth),
                ("aftership-hmac-sha256", NODE_FIXTURE_SIG),
                ("Content-Type", "application/json"),
            ],
            FIXTURE,
        )
        .await;
        assert!(!(200..300).contains(&r.status), "inspector {method} webhook path answered {}", r.status);
    }
    let r =
        request(t.inspector, "POST", "/api/webhooks/aftership", &[("Authorization", &auth)], FIXTURE).await;
    assert!(!(200..300).contains(&r.status));
    assert_eq!(t.delivery_count().await, 0, "nothing stored through the inspector");
    // Inspector serves the UI at / (the built UI, or the page saying how to build it).
    let r = request(t.inspector, "GET", "/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    // Receiver: the same UI and API requests, with the token, are 404.
    for path in [
        "/",
        "/index.html",
        "/api/status",
        "/api/deliveries",
        "/api/settings",
        "/api/stream",
        "/assets/index.js",
    ] {
        let r = request(t.receiver, "GET", path, &[("Authorization", &auth)], b"").await;
        assert_eq!(r.status, 404, "receiver GET {path}");
        assert!(!r.text().contains("Shipwatch"), "receiver GET {path} leaks the UI: {}", r.text());
    }
    let r = request(t.receiver, "GET", &format!("/?token={}", t.token), &[], b"").await;
    assert_eq!(r.status, 404);
    assert!(r.header("set-cookie").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_must_be_loopback() {
    let t = start(Some(SECRET)).await;
    let auth = format!("Bearer {}", t.token);
    let port = t.inspector.port();
    for host in [
        "evil.com",
        &format!("evil.com:{port}"),
        &format!("127.0.0.1.evil.com:{port}"),
        "localhost.evil.com",
        "10.0.0.1",
        &format!("[::2]:{port}"),
        "localhost:evil.com",
        &format!("localhost:{port}@evil.com"),
        &format!("[::1]:{port}.evil.com"),
        &format!("[::1]evil.com:{port}"),
        "",
    ] {
        for path in ["/api/status", "/", "/api/stream"] {
            let r = request(t.inspector, "GET", path, &[("Host", host), ("Authorization", &auth)], b"").await;
            assert_eq!(r.status, 403, "Host {host} {path}");
            let words = r.json()["error"].as_str().unwrap().to_owned();
            assert!(words.contains("localhost, 127.0.0.1 or [::1]"), "says what to use: {words}");
            assert_eq!(host.is_empty(), words.contains("no Host header"), "{host:?}: {words}");
        }
        let r = request(t.inspector, "GET", &format!("/?token={}", t.token), &[("Host", host)], b"").await;
        assert_eq!(r.status, 403, "no cookie handed to a rebinding page");
        assert!(r.header("set-cookie").is_none());
    }
    // Two Host headers, or an absolute-form target naming another host, are refused too: either
    // could carry a loopback Host past a check that reads only one of them.
    let two_hosts = [("Host", "127.0.0.1"), ("Host", "evil.com"), ("Authorization", auth.as_str())];
    assert_eq!(request(t.inspector, "GET", "/api/status", &two_hosts, b"").await.status, 403);
    let spelled = [("Host", "evil.com"), ("Host", "127.0.0.1"), ("Authorization", auth.as_str())];
    assert_eq!(request(t.inspector, "GET", "/api/status", &spelled, b"").await.status, 403);
    let loopback = [("Host", "127.0.0.1"), ("Authorization", auth.as_str())];
    let absolute = format!("http://evil.com:{port}/api/status");
    assert_eq!(request(t.inspector, "GET", &absolute, &loopback, b"").await.status, 403);
    let absolute = format!("http://127.0.0.1:{port}/api/status");
    assert_eq!(request(t.inspector, "GET", &absolute, &loopback, b"").await.status, 200);
    // The auth scheme's name is case-insensitive.
    let lower = format!("bearer {}", t.token);
    let r = request(t.inspector, "GET", "/api/status", &[("Authorization", lower.as_str())], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        "[::1]".into(),
        "localhost".into(),
        format!("LOCALHOST:{port}"),
    ] {
        let r = request(t.inspector, "GET", "/api/status", &[("Host", &host), ("Authorization", &auth)], b"")
            .await;
        assert_eq!(r.status, 200, "Host {host}: {}", r.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_the_token_and_query_token_sets_a_cookie_that_then_works() {
    let t = start(Some(SECRET)).await;
    // The token file is what `shipwatch serve` prints, private to the user.
    let file = std::fs::read_to_string(t.dir.join("inspector-token")).unwrap();
    assert_eq!(file.trim(), t.token);
    assert!(t.token.len() >= 32);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.dir.join("inspector-token")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let get = |headers: Vec<(&'static str, String)>, path: String| {
        let addr = t.inspector;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            request(addr, "GET", &path, &h, b"").await
        }
    };
    for path in [
        "/api/status",
        "/api/deliveries",
        "/api/shipments",
        "/api/settings",
        "/api/stream",
        "/api/deliveries/1",
    ] {
        let r = get(vec![], path.into()).await;
        assert_eq!(r.status, 401, "{path} without a token");
        assert!(r.json()["error"].as_str().unwrap().contains("token"), "says what to do");
    }
    let mut wrong = t.token.clone();
    wrong.replace_range(0..1, if wrong.starts_with('a') { "b" } else { "a" });
    for headers in [
        vec![("Authorization", format!("Bearer {wrong}"))],
        vec![("Authorization", t.token.clone())],
        vec![("Authorization", format!("Basic {}", t.token))],
        vec![("Cookie", format!("shipwatch_token={wrong}"))],
        vec![("Cookie", format!("other={}", t.token))],
    ] {
        assert_eq!(get(headers.clone(), "/api/status".into()).await.status, 401, "{headers:?}");
    }
    assert_eq!(get(vec![], format!("/api/status?token={wrong}")).await.status, 401);
    assert_eq!(get(vec![], format!("/api/status?token={}", &t.token[..t.token.len() - 1])).await.status, 401);

    // Bearer works.
    assert_eq!(
        get(vec![("Authorization", format!("Bearer {}", t.token))], "/api/status".into()).await.status,
        200
    );
    // ?token= works once and sets an HttpOnly, SameSite=Strict cookie ...
    let r = get(vec![], format!("/api/status?token={}", t.token)).await;
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").expect("a cookie").to_owned();
    assert!(cookie.starts_with(&format!("shipwatch_token={};", t.token)), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    // ... which then works on its own.
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(get(vec![("Cookie", pair.clone())], "/api/deliveries".into()).await.status, 200);
    assert_eq!(get(vec![("Cookie", format!("a=b; {pair}; c=d"))], "/api/status".into()).await.status, 200);
    // The UI link: GET /?token= sets the cookie and redirects to the clean URL.
    let r = get(vec![], format!("/?token={}", t.token)).await;
    assert!((300..400).contains(&r.status), "{}", r.status);
    assert_eq!(r.header("location"), Some("/"));
    assert!(r.header("set-cookie").unwrap().starts_with("shipwatch_token="));
    assert_eq!(get(vec![], format!("/?token={wrong}")).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_writes_are_refused_even_with_the_token() {
    let t = start(Some(SECRET)).await;
    let auth = format!("Bearer {}", t.token);
    let cookie = format!("shipwatch_token={}", t.token);
    let same = format!("http://{}", t.inspector);
    let body = serde_json::to_vec(&json!({"public_url": "https://evil.example"})).unwrap();
    for origin in
        ["http://evil.com", "https://evil.com", "null", &format!("http://evil.com:{}", t.inspector.port())]
    {
        for (method, path, b) in [
            ("PUT", "/api/settings", &body[..]),
            ("POST", "/api/test-delivery", b"{}"),
            ("POST", "/api/deliveries/1/reverify", b"{\"secret\":\"x\"}"),
        ] {
            let r = request(
                t.inspector,
                method,
                path,
                &[
                    ("Origin", origin),
                    ("Cookie", &cookie),
                    ("Authorization", &auth),
                    ("Content-Type", "application/json"),
                ],
                b,
            )
            .await;
            assert_eq!(r.status, 403, "{method} {path} from {origin}");
        }
    }
    assert!(t.get_json("/api/settings").await["public_url"].is_null(), "the refused PUT changed nothing");
    assert_eq!(t.delivery_count().await, 0, "the refused test delivery was not sent");
    // The same request from the inspector's own origin is fine.
    let r = request(
        t.inspector,
        "PUT",
        "/api/settings",
        &[("Origin", &same), ("Authorization", &auth), ("Content-Type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["public_url"], "https://evil.example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sends_a_delivery_event_right_after_the_answer() {
    let t = start(Some(SECRET)).await;
    let mut sse = Sse::connect(&t).await;
    let mut worst = Duration::ZERO;
    for i in 0..5 {
        let (eid, body) = update(&format!("sse{i}"), "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
        let sent = Instant::now();
        let r = t.post_signed(&body, if i == 4 { "wrong" } else { SECRET }).await;
        let answered = Instant::now();
        let mut got = None;
        while let Some((name, data)) = sse.next_event(Duration::from_secs(5)).await {
            if name == "delivery" {
                got = Some(data);
                break;
            }
            assert_eq!(name, "shipment", "only delivery and shipment events here");
        }
        let arrived = Instant::now();
        let data = got.expect("a delivery event");
        assert_eq!(data["type"], "delivery");
        assert_eq!(data["delivery"]["event_id"], eid.as_str());
        assert_eq!(data["delivery"]["status"], r.status);
        let after_answer = arrived.saturating_duration_since(answered);
        println!(
            "SSE delivery event {i} ({}): {:?} after the {} answer ({:?} after sending)",
            data["delivery"]["verdict"],
            after_answer,
            r.status,
            arrived - sent
        );
        worst = worst.max(after_answer);
    }
    println!("worst SSE lag after the answer: {worst:?} (target 50 ms)");
    assert!(worst < Duration::from_secs(1), "SSE lagged {worst:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_list_filters_and_pages_without_gaps_or_duplicates() {
    let t = start(Some(SECRET)).await;
    // 250 valid deliveries over 5 couriers and 3 tags, with order ids, plus some failures.
    let tags = ["InTransit", "OutForDelivery", "Delivered"];
    let slugs = ["usps", "ups", "fedex", "dhl", "royal-mail"];
    let mut event_ids = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..250usize {
        let eid = event_id();
        event_ids.push(eid.clone());
        let body = fixture_with(|v| {
            v["event_id"] = json!(eid);
            let m = &mut v["msg"];
            m["id"] = json!(format!("page{i}"));
            m["tracking_number"] = json!(format!("PG{i:05}"));
            m["order_id"] = json!(format!("Order-{i:05}"));
            m["slug"] = json!(slugs[i % 5]);
            m["tag"] = json!(tags[i % 3]);
        });
        let (receiver, path) = (t.receiver, t.webhook_path.clone());
        tasks.push(tokio::spawn(async move {
            let sig = sign(SECRET, &body);
            request(receiver, "POST", &path, &[("aftership-hmac-sha256", &sig)], &body).await.status
        }));
        if tasks.len() == 32 {
            for task in tasks.drain(..) {
                assert_eq!(task.await.unwrap(), 200);
            }
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (bad_eid, bad) = update("bad", "Delivered", "2021-01-14T09:00:00+00:00", vec![]);
    assert_eq!(t.post(&bad, &[("aftership-hmac-sha256", &sign("nope", &bad))]).await.status, 401);
    assert_eq!(t.post(&bad, &[]).await.status, 401);
    assert_eq!(t.post(&bad, &[("aftership-hmac-sha256", "zz")]).await.status, 401);

    // Paging: every delivery exactly once, newest first.
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &before {
            Some(b) => format!("/api/deliveries?limit=37&before={b}"),
            None => "/api/deliveries?limit=37".into(),
        };
        let page = t.get_json(&url).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 37);
        seen.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        pages += 1;
        match page["next"].as_str() {
            Some(n) => before = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 253, "pages: {pages}");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly newest first, no duplicates");
    assert_eq!(pages, 7);
    let mut got_eids: Vec<String> = Vec::new();
    for chunk in [0, 1] {
        let page = t
            .get_json(&format!(
                "/api/deliveries?limit=500&verdict=valid{}",
                if chunk == 0 { "" } else { "&slug=usps" }
            ))
            .await;
        if chunk == 0 {
            got_eids = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["event_id"].as_str().unwrap().to_owned())
                .collect();
        } else {
            assert_eq!(page["items"].as_array().unwrap().len(), 50);
        }
    }
    got_eids.sort();
    let mut want = event_ids.clone();
    want.sort();
    assert_eq!(got_eids, want, "every posted event is listed once");

    // Verdict filters, `failed` included.
    let count = |v: Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(t.get_json("/api/deliveries?verdict=invalid").await), 1);
    assert_eq!(count(t.get_json("/api/deliveries?verdict=missing").await), 1);
    assert_eq!(count(t.get_json("/api/deliveries?verdict=malformed").await), 1);
    assert_eq!(count(t.get_json("/api/deliveries?verdict=unverified").await), 0);
    let failed = t.get_json("/api/deliveries?verdict=failed").await;
    assert_eq!(count(failed.clone()), 3);
    assert!(failed["items"].as_array().unwrap().iter().all(|i| i["event_id"] == bad_eid.as_str()));
    let r = t.api("GET", "/api/deliveries?verdict=bogus", None).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("failed"), "lists the verdicts");
    // Tag and slug.
    assert_eq!(count(t.get_json("/api/deliveries?limit=500&tag=Delivered&verdict=valid").await), 83);
    assert_eq!(count(t.get_json("/api/deliveries?limit=500&tag=OutForDelivery").await), 83);
    assert_eq!(count(t.get_json("/api/deliveries?limit=500&slug=royal-mail").await), 50);
    assert_eq!(count(t.get_json("/api/deliveries?limit=500&slug=royal-mail&tag=InTransit").await), 17);
    // q: tracking number, order id, event id; substring, case-insensitive.
    let one = t.get_json("/api/deliveries?q=PG00123").await;
    assert_eq!(count(one.clone()), 1);
    assert_eq!(one["items"][0]["tracking_number"], "PG00123");
    assert_eq!(count(t.get_json("/api/deliveries?q=order-00042").await), 1, "order id, any case");
    assert_eq!(count(t.get_json("/api/deliveries?q=PG0012&limit=500").await), 10);
    let by_eid = t.get_json(&format!("/api/deliveries?q={}", &event_ids[77][..13].to_uppercase())).await;
    assert!(by_eid["items"].as_array().unwrap().iter().any(|i| i["event_id"] == event_ids[77].as_str()));
    assert_eq!(count(t.get_json("/api/deliveries?q=%25").await), 0, "a % is a literal, not a wildcard");
    // Limits and cursors.
    assert_eq!(count(t.get_json("/api/deliveries?limit=1").await), 1);
    assert_eq!(count(t.get_json("/api/deliveries?limit=100000").await), 253, "clamped to 500");
    assert_eq!(t.api("GET", "/api/deliveries?before=banana", None).await.status, 400);
    // Shipments page the same way (cursor on updated_at + id: many share a millisecond).
    let mut ship_ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let url = match &before {
            Some(b) => format!("/api/shipments?limit=37&before={b}"),
            None => "/api/shipments?limit=37".into(),
        };
        let page = t.get_json(&url).await;
        ship_ids.extend(page["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()));
        match page["next"].as_str() {
            Some(n) => before = Some(n.to_owned()),
            None => break,
        }
    }
    let mut unique = ship_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((ship_ids.len(), unique.len()), (250, 250), "no shipment twice, none missing");
    assert_eq!(
        count(t.get_json("/api/shipments?q=pg00042").await),
        1,
        "shipments q: tracking number, any case"
    );
    assert_eq!(t.api("GET", "/api/shipments?before=nope", None).await.status, 400);
    // Shipments: tag filter and counts.
    let ships = t.get_json("/api/shipments?tag=Delivered&limit=500").await;
    assert_eq!(count(ships.clone()), 83);
    let counts = ships["counts"].as_array().unwrap();
    assert_eq!(counts.iter().map(|c| c["count"].as_i64().unwrap()).sum::<i64>(), 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_query_parameters_are_400_with_a_json_error_and_unknown_ids_404() {
    let t = start(Some(SECRET)).await;
    for path in [
        "/api/deliveries/abc",
        "/api/deliveries/1.5",
        "/api/shipments/xyz",
        "/api/deliveries?limit=lots",
        "/api/shipments?limit=many",
        "/api/deliveries?before=garbage",
    ] {
        let r = t.api("GET", path, None).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(
            r.header("content-type").unwrap_or("").starts_with("application/json"),
            "{path}: {:?}",
            r.headers
        );
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}");
    }
    // The messages say what to do, not what the parser thought.
    let r = t.api("GET", "/api/deliveries/abc", None).await;
    assert!(
        r.json()["error"].as_str().unwrap().contains("use the `id` of an item from a list"),
        "{}",
        r.text()
    );
    let r = t.api("GET", "/api/deliveries?before=garbage", None).await;
    assert!(
        r.json()["error"].as_str().unwrap().contains("pass back the `next` of the previous page"),
        "{}",
        r.text()
    );
    // A page size out of range, negative ones too, is clamped as docs/api.md says, not refused.
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);
    for path in ["/api/deliveries?limit=-1", "/api/deliveries?limit=0", "/api/shipments?limit=-7"] {
        let r = t.api("GET", path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let items = &r.json()["items"];
        assert_eq!(items.as_array().map(Vec::len), Some(1), "{path}: clamped to 1: {}", r.text());
    }
    for path in ["/api/deliveries?limit=100000", "/api/deliveries?limit=99999999999999999999999"] {
        assert_eq!(t.get_json(path).await["items"].as_array().unwrap().len(), 1, "{path}");
    }
    let r = t.api("GET", "/api/deliveries?limit=lots", None).await;
    assert!(
        r.json()["error"].as_str().unwrap().contains("limit must be a whole number (1 to 500)"),
        "{}",
        r.text()
    );
    // A method an endpoint does not take is a JSON error like every other.
    for (method, path) in [("DELETE", "/api/deliveries"), ("POST", "/api/status")] {
        let r = t.api(method, path, None).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert!(r.json()["error"].as_str().unwrap().contains("does not take that method"), "{}", r.text());
    }
    for path in ["/api/deliveries/999999", "/api/shipments/999999", "/api/nothing-here"] {
        let r = t.api("GET", path, None).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json()["error"].is_string(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverify_checks_a_stored_delivery_against_a_typed_secret_without_changing_it() {
    let t = start(Some(SECRET)).await;
    let sig = sign(OTHER_SECRET, FIXTURE);
    assert_eq!(t.post(FIXTURE, &[("aftership-hmac-sha256", &sig)]).await.status, 401);
    let id = t.latest_delivery().await["id"].as_i64().unwrap();
    let path = format!("/api/deliveries/{id}/reverify");
    let r = t.api("POST", &path, Some(&json!({"secret": OTHER_SECRET}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["received"], sig);
    assert_eq!(report["expected"], sig);
    assert!(report["secret"].is_null(), "the typed secret is not a saved one: {report}");
    let r = t.api("POST", &path, Some(&json!({"secret": "still-wrong"}))).await;
    assert_eq!(r.json()["verdict"], "invalid");
    // The words speak of the typed secret, not of the one saved in Shipwatch.
    let diagnosis = r.json()["diagnosis"].as_str().unwrap().to_owned();
    assert!(diagnosis.starts_with("The secret you typed does not match"), "{diagnosis}");
    assert!(!diagnosis.contains("secret in Shipwatch"), "{diagnosis}");
    // Typed with a space after it: the space is the typed secret's, not the saved one's.
    let r = t.api("POST", &path, Some(&json!({"secret": format!("{OTHER_SECRET} ")}))).await;
    let diagnosis = r.json()["diagnosis"].as_str().unwrap().to_owned();
    assert!(diagnosis.contains("the secret you typed has spaces"), "{diagnosis}");
    let r = t.api("POST", &path, Some(&json!({"secret": ""}))).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("secret"));
    assert_eq!(
        t.api("POST", "/api/deliveries/987654/reverify", Some(&json!({"secret": "x"}))).await.status,
        404
    );
    // The stored delivery is unchanged.
    let d = t.delivery(id).await;
    assert_eq!(d["verdict"], "invalid");
    assert_eq!(d["status"], 401);
    // A truncated (too large) delivery cannot be re-verified, and says so.
    assert_eq!(t.api("PUT", "/api/settings", Some(&json!({"body_limit": 2048}))).await.status, 200);
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 413);
    let big = t.latest_delivery().await["id"].as_i64().unwrap();
    let r = t.api("POST", &format!("/api/deliveries/{big}/reverify"), Some(&json!({"secret": SECRET}))).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("over the limit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_deliveries_and_failures_and_names_the_urls() {
    let t = start(Some(SECRET)).await;
    let empty = t.get_json("/api/status").await;
    assert_eq!(empty["deliveries_total"], 0);
    assert!(empty["last_delivery_at"].is_null());
    assert_eq!(empty["receiver"]["state"], "listening");
    assert_eq!(empty["local_webhook_url"], t.engine().receiver_url().unwrap());
    assert_eq!(empty["webhook_path"], "/webhooks/aftership");
    assert_eq!(empty["secret_configured"], true);
    assert_eq!(empty["data_dir"], t.dir.display().to_string());
    assert!(empty["warnings"].as_array().unwrap().is_empty(), "{empty}");
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);
    assert_eq!(t.post(FIXTURE, &[]).await.status, 401);
    assert_eq!(t.post(FIXTURE, &[("aftership-hmac-sha256", "x")]).await.status, 401);
    let s = t.get_json("/api/status").await;
    assert_eq!(s["deliveries_total"], 3);
    assert_eq!(s["deliveries_today"], 3);
    assert_eq!(s["failures_today"], 2);
    assert_eq!(s["last_delivery_at"], t.latest_delivery().await["received_at"]);
    t.engine().add_warning("no notification server");
    t.engine().add_warning("no notification server");
    assert_eq!(t.get_json("/api/status").await["warnings"], json!(["no notification server"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_secret_takes_effect_for_the_next_delivery_and_is_never_returned() {
    let t = start(Some(SECRET)).await;
    let secret2 = "rotated-secret-0123456789abcdef";
    assert_eq!(t.post_signed(FIXTURE, SECRET).await.status, 200);

    // Rotate: the new one is current, the old one previous. No restart.
    let r = t.api("PUT", "/api/settings", Some(&json!({"secret": secret2, "previous_secret": SECRET}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let view = r.json();
    assert_eq!(view["secret_set"], true);
    assert_eq!(view["secret_hint"], "••••cdef");
    assert_eq!(view["previous_secret_set"], true);
    assert_eq!(view["secrets_from_env"], false);
    let (_, b1) = update("rot", "InTransit", "2021-01-14T09:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&b1, secret2).await.status, 200);
    assert_eq!(t.latest_delivery().await["verdict"], "valid");
    assert_eq!(
        t.delivery(t.latest_delivery().await["id"].as_i64().unwrap()).await["signature"]["secret"],
        "current"
    );
    let (_, b2) = update("rot", "InTransit", "2021-01-14T10:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&b2, SECRET).await.status, 200);
    assert_eq!(
        t.delivery(t.latest_delivery().await["id"].as_i64().unwrap()).await["signature"]["secret"],
        "previous"
    );

    // Finish the rotation: the old secret stops working at once.
    let r = t.api("PUT", "/api/settings", Some(&json!({"previous_secret": ""}))).await;
    assert_eq!(r.json()["previous_secret_set"], false);
    let (_, b3) = update("rot", "InTransit", "2021-01-14T11:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&b3, SECRET).await.status, 401);
    // Deliveries verified under the secrets of their day keep their verdict, and the explanation
    // worked out with today's secrets says first that they changed, instead of contradicting it.
    let first = t.get_json("/api/deliveries?limit=500").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect::<Vec<_>>();
    let (oldest, by_previous) = (*first.last().unwrap(), first[1]);
    let d = t.delivery(oldest).await;
    assert_eq!((d["verdict"].as_str(), d["signature"]["secret"].as_str()), (Some("valid"), Some("current")));
    let words = d["signature"]["diagnosis"].as_str().unwrap();
    assert!(
        words.starts_with(
            "When it arrived this delivery was valid (current secret); the secrets have changed since."
        ),
        "{words}"
    );
    let d = t.delivery(by_previous).await;
    assert_eq!((d["verdict"].as_str(), d["signature"]["secret"].as_str()), (Some("valid"), Some("previous")));
    assert!(
        d["signature"]["diagnosis"]
            .as_str()
            .unwrap()
            .starts_with("When it arrived this delivery was valid (previous secret)"),
        "{d}"
    );
    // One verified with the secret still current needs no such note.
    let d = t.delivery(first[2]).await;
    assert_eq!(d["signature"]["secret"], "current");
    assert!(d["signature"]["diagnosis"].as_str().unwrap().starts_with("The signature matches"), "{d}");

    // Secrets never come back: not from settings, status, or anywhere in the API's answers.
    for path in ["/api/settings", "/api/status", "/api/deliveries", "/api/shipments"] {
        let raw = t.api("GET", path, None).await.raw_text();
        assert!(!raw.contains(secret2) && !raw.contains(SECRET), "{path} leaks a secret: {raw}");
    }
    // settings.json holds them, private to the user, and survives as the source of truth.
    let path = t.dir.join("settings.json");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "settings.json must be 0600");
    }
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["secret"], secret2);
    assert!(saved["previous_secret"].is_null());
    // Clearing the secret returns to unverified mode.
    let r = t.api("PUT", "/api/settings", Some(&json!({"secret": ""}))).await;
    assert_eq!(r.json()["secret_set"], false);
    let (_, b4) = update("rot", "InTransit", "2021-01-14T12:00:00+00:00", vec![]);
    assert_eq!(t.post_signed(&b4, "anything").await.status, 200);
    assert_eq!(t.latest_delivery().await["verdict"], "unverified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_are_400_with_a_message_and_change_nothing() {
    let t = start(Some(SECRET)).await;
    let before = t.get_json("/api/settings").await;
    let file_before = std::fs::read(t.dir.join("settings.json")).unwrap();
    let cases = [
        json!({"listen": "not an address"}),
        json!({"body_limit": 10}),
        json!({"body_limit": 1_000_000_000_000u64}),
        json!({"webhook_path": "/healthz"}),
        json!({"webhook_path": "/"}),
        json!({"webhook_path": "/has space"}),
        json!({"webhook_path": "/a?b"}),
        json!({"quiet_hours": {"start": "25:00", "end": "07:00"}}),
        json!({"quiet_hours": {"start": "7:00", "end": "07:00"}}),
        json!({"public_url": "ftp://example.com"}),
        json!({"body_limit": "lots"}),
        json!({"notify_tags": "Delivered"}),
        json!({"nonsense": 5}),
        json!({"secert": "typo"}),
    ];
    for case in &cases {
        let r = t.api("PUT", "/api/settings", Some(case)).await;
        assert_eq!(r.status, 400, "{case}: {} {}", r.status, r.text());
        let msg = r.json()["error"].as_str().map(str::to_owned).unwrap_or_default();
        assert!(msg.len() > 10, "{case}: a message that says what is wrong: {msg:?}");
    }
    let auth = format!("Bearer {}", t.token);
    let r = request(
        t.inspector,
        "PUT",
        "/api/settings",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        b"{not json",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].is_string());
    assert_eq!(t.get_json("/api/settings").await, before);
    assert_eq!(std::fs::read(t.dir.join("settings.json")).unwrap(), file_before);
    // And a good one goes through.
    let r = t
        .api(
            "PUT",
            "/api/settings",
            Some(&json!({"public_url": "https://abc.trycloudflare.com/webhooks/aftership"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["public_url"], "https://abc.trycloudflare.com", "a pasted full URL keeps the base");
    let status = t.get_json("/api/status").await;
    assert_eq!(status["public_webhook_url"], "https://abc.trycloudflare.com/webhooks/aftership");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_webhook_path_moves_the_receiver_without_restart() {
    let t = start(Some(SECRET)).await;
    let r = t.api("PUT", "/api/settings", Some(&json!({"webhook_path": "hooks/as-7f3a"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["webhook_path"], "/hooks/as-7f3a");
    let url = t.engine().receiver_url().unwrap();
    assert!(url.ends_with("/hooks/as-7f3a"), "{url}");
    let (addr, path) = split_url(&url);
    let sig = sign(SECRET, FIXTURE);
    let r = request(addr, "POST", &path, &[("aftership-hmac-sha256", &sig)], FIXTURE).await;
    assert_eq!(r.status, 200);
    let r = request(addr, "POST", "/webhooks/aftership", &[("aftership-hmac-sha256", &sig)], FIXTURE).await;
    assert_eq!(r.status, 404, "the old path is gone");
    assert_eq!(t.delivery_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_delivery_is_signed_with_the_current_secret_and_stored() {
    let t = start(Some(SECRET)).await;
    let r = t.api("POST", "/api/test-delivery", Some(&json!({"tag": "Delivered"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let result = r.json();
    assert_eq!(result["status"], 200);
    let id = result["delivery_id"].as_i64().expect("stored");
    let d = t.delivery(id).await;
    assert_eq!(d["verdict"], "valid");
    assert_eq!(d["signature"]["secret"], "current");
    assert_eq!(d["event_id"], result["event_id"]);
    assert_eq!(d["tracking_number"], result["tracking_number"]);
    assert_eq!(d["tag"], "Delivered");
    assert_eq!(t.shipment(d["shipment_id"].as_i64().unwrap()).await["tag"], "Delivered");
    // No body at all: the default tag.
    let auth = format!("Bearer {}", t.token);
    let r = request(t.inspector, "POST", "/api/test-delivery", &[("Authorization", &auth)], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(t.delivery(r.json()["delivery_id"].as_i64().unwrap()).await["tag"], "InTransit");
    // A body that is not the request's JSON is a 400 with a JSON error, like every API error.
    for bad in [&b"{not json"[..], b"{\"tag\": 7}"] {
        let r = request(
            t.inspector,
            "POST",
            "/api/test-delivery",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            bad,
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("JSON"));
    }
    let r = request(
        t.inspector,
        "POST",
        "/api/deliveries/1/reverify",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        b"[]",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_delivery_without_a_secret_is_signed_like_afterships_and_accepted_unverified() {
    // AfterShip always signs; with no secret configured here a real delivery is accepted unverified,
    // and the test delivery must show the user exactly that (not a 401 no real delivery would get).
    let t = start(None).await;
    let r = t.api("POST", "/api/test-delivery", Some(&json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let result = r.json();
    assert_eq!(result["status"], 200);
    let id = result["delivery_id"].as_i64().expect("stored");
    let d = t.delivery(id).await;
    assert_eq!(d["verdict"], "unverified");
    assert_eq!(d["status"], 200);
    assert!(d["signature"]["received"].is_string(), "signed: {d}");
    assert!(d["signature"]["expected"].is_null());
    assert_eq!(t.shipment(d["shipment_id"].as_i64().unwrap()).await["unverified"], true);
    assert!(d["signature"]["advice"].as_str().unwrap().contains("secret"), "says to set the secret: {d}");
}
