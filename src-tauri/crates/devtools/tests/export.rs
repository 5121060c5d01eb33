//! Export and replay over a real store: counts match the pages, every row comes once in order
//! across page boundaries, filters apply, a snapshot holds while the writer works, streaming through
//! a channel gives the same bytes.

use std::collections::HashSet;
use std::path::Path;

use base64::Engine as _;
use shipwatch_aftership::sample::{sample_body, SampleOptions};
use shipwatch_aftership::{parse_envelope, sign, DeliveryVerdict, SecretSlot, Tag};
use shipwatch_api::{DeliveryQuery, ShipmentQuery};
use shipwatch_devtools::export::{export_deliveries, export_shipments, ChannelWriter};
use shipwatch_devtools::{ExportFormat, ExportOptions, ExportProgress};
use shipwatch_store::{queries, NewDelivery, Store, StoredVerdict, WriterConfig};

const TS: i64 = 1_751_371_200;

fn delivery(n: usize, tag: Tag, valid: bool, title: Option<&str>) -> NewDelivery {
    let mut opts =
        SampleOptions::new(format!("event-{n:06}"), format!("TN{:05}", n % 700), tag, TS + n as i64);
    opts.title = title.map(str::to_owned);
    opts.order_id = matches!(n % 10, 0).then(|| format!("ORDER-{n}"));
    let body = sample_body(&opts);
    let signature = sign(if valid { "secret" } else { "wrong" }, &body);
    NewDelivery {
        received_at_ms: (TS + n as i64) * 1000,
        peer: "127.0.0.1:50000".into(),
        forwarded_for: None,
        cf_connecting_ip: None,
        method: "POST".into(),
        path: "/webhooks/aftership".into(),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("aftership-hmac-sha256".into(), signature),
        ],
        body_size: body.len() as i64,
        envelope: parse_envelope(&body).ok(),
        body,
        body_truncated: false,
        verdict: StoredVerdict::Signature(if valid {
            DeliveryVerdict::Valid(SecretSlot::Current)
        } else {
            DeliveryVerdict::Invalid
        }),
        status: if valid { 200 } else { 401 },
        parse_error: None,
        diagnosis: None,
    }
}

fn tag_for(n: usize) -> Tag {
    Tag::KNOWN[n % Tag::KNOWN.len()].clone()
}

/// A store with `count` deliveries: every 7th signed wrongly, some titles needing CSV quotes.
fn seeded(dir: &Path, count: usize) -> Store {
    let store = Store::open(dir, WriterConfig { full_sync: false, ..Default::default() }).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut pending = Vec::new();
        for n in 0..count {
            let title = (n % 50 == 0).then_some("Boots, \"winter\" edition");
            let d = delivery(n, tag_for(n), n % 7 != 3, title);
            let store = store.clone();
            pending.push(tokio::spawn(async move { store.insert(d).await.unwrap() }));
            if pending.len() == 256 {
                for p in pending.drain(..) {
                    p.await.unwrap();
                }
            }
        }
        for p in pending {
            p.await.unwrap();
        }
    });
    store
}

fn export_d(
    conn: &rusqlite::Connection,
    q: &DeliveryQuery,
    options: ExportOptions,
) -> (String, Vec<ExportProgress>) {
    let mut out = Vec::new();
    let mut progress = Vec::new();
    let summary = export_deliveries(conn, q, options, &mut out, &mut |p| progress.push(p)).unwrap();
    assert_eq!(summary.bytes, out.len() as u64);
    (String::from_utf8(out).unwrap(), progress)
}

fn export_s(conn: &rusqlite::Connection, q: &ShipmentQuery, options: ExportOptions) -> String {
    let mut out = Vec::new();
    export_shipments(conn, q, options, &mut out, &mut |_| {}).unwrap();
    String::from_utf8(out).unwrap()
}

fn lines(ndjson: &str) -> Vec<serde_json::Value> {
    ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn deliveries_stream_across_pages_with_the_api_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path(), 1_234);
    let conn = queries::open_read_only(dir.path()).unwrap();

    let (text, progress) = export_d(&conn, &DeliveryQuery::default(), ExportOptions::default());
    let rows = lines(&text);
    assert_eq!(rows.len(), 1_234);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, each once");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1_234);
    // Progress: from 0, page by page, to the total.
    assert_eq!(progress.first(), Some(&ExportProgress { rows: 0, total: 1_234 }));
    assert_eq!(progress.last(), Some(&ExportProgress { rows: 1_234, total: 1_234 }));
    assert!(progress.windows(2).all(|w| w[0].rows < w[1].rows));
    assert_eq!(progress.len(), 1 + 3, "pages of 500");
    // The same JSON as the API's list items.
    let first_page = queries::list_deliveries(&conn, &DeliveryQuery::default()).unwrap();
    assert_eq!(serde_json::to_value(&first_page.items[0]).unwrap(), rows[0]);

    // Filters: the count, the export and the API's pages agree.
    let filters = [
        DeliveryQuery { verdict: Some("failed".into()), ..Default::default() },
        DeliveryQuery { verdict: Some("valid".into()), ..Default::default() },
        DeliveryQuery { tag: Some("Delivered".into()), ..Default::default() },
        DeliveryQuery { q: Some("order-1".into()), ..Default::default() },
        DeliveryQuery { q: Some("tn0004".into()), verdict: Some("valid".into()), ..Default::default() },
        DeliveryQuery { slug: Some("usps".into()), tag: Some("Exception".into()), ..Default::default() },
        DeliveryQuery { slug: Some("fedex".into()), ..Default::default() },
    ];
    for filter in filters {
        let mut api_rows = Vec::new();
        let mut page_query = DeliveryQuery { limit: Some(500), ..filter.clone() };
        loop {
            let page = queries::list_deliveries(&conn, &page_query).unwrap();
            api_rows.extend(page.items.iter().map(|i| i.id));
            match page.next {
                Some(next) => page_query.before = Some(next),
                None => break,
            }
        }
        let count = queries::count_deliveries(&conn, &filter).unwrap();
        let exported: Vec<i64> = lines(&export_d(&conn, &filter, ExportOptions::default()).0)
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert_eq!(count as usize, api_rows.len(), "{filter:?}");
        assert_eq!(exported, api_rows, "{filter:?}");
    }
    let failed = lines(
        &export_d(
            &conn,
            &DeliveryQuery { verdict: Some("failed".into()), ..Default::default() },
            ExportOptions::default(),
        )
        .0,
    );
    assert!(!failed.is_empty() && failed.iter().all(|r| r["verdict"] == "invalid" && r["status"] == 401));

    // limit caps the rows; before starts from a cursor.
    let (text, progress) =
        export_d(&conn, &DeliveryQuery { limit: Some(501), ..Default::default() }, ExportOptions::default());
    assert_eq!(lines(&text).len(), 501);
    assert_eq!(progress.last().unwrap().total, 501);
    let (text, _) = export_d(
        &conn,
        &DeliveryQuery { before: Some(ids[9].to_string()), ..Default::default() },
        ExportOptions::default(),
    );
    assert_eq!(lines(&text).len(), 1_234 - 10);

    // CSV: a header, one row per delivery, CRLF.
    let (csv, _) = export_d(
        &conn,
        &DeliveryQuery::default(),
        ExportOptions { format: ExportFormat::Csv, include_bodies: false },
    );
    assert_eq!(csv.matches("\r\n").count(), 1_235);
    assert!(csv.starts_with("id,received_at,event_id,event,verdict,status,duplicate,tracking_number,slug,tag,order_id,shipment_id,size,diagnosis\r\n"));

    // Bodies: exactly what is stored.
    let (text, _) = export_d(
        &conn,
        &DeliveryQuery { limit: Some(3), ..Default::default() },
        ExportOptions { format: ExportFormat::Ndjson, include_bodies: true },
    );
    for row in lines(&text) {
        let record = queries::get_delivery(&conn, row["id"].as_i64().unwrap()).unwrap();
        let body =
            base64::engine::general_purpose::STANDARD.decode(row["body_base64"].as_str().unwrap()).unwrap();
        assert_eq!(body, record.body);
        assert_eq!(row["headers"][1][0], "aftership-hmac-sha256");
        assert_eq!(row["path"], "/webhooks/aftership");
    }
    let (csv, _) = export_d(
        &conn,
        &DeliveryQuery { limit: Some(2), ..Default::default() },
        ExportOptions { format: ExportFormat::Csv, include_bodies: true },
    );
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .ends_with(",method,path,peer,forwarded_for,cf_connecting_ip,headers,body_base64,body_truncated"));
    store.close();
}

#[test]
fn shipments_stream_with_counts_quotes_and_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path(), 1_100);
    let conn = queries::open_read_only(dir.path()).unwrap();

    let all = lines(&export_s(&conn, &ShipmentQuery::default(), ExportOptions::default()));
    let total = queries::count_shipments(&conn, &ShipmentQuery::default()).unwrap() as usize;
    assert_eq!(all.len(), total);
    assert!(total > 500, "more than one page: {total}");
    assert_eq!(all.iter().map(|s| s["id"].as_i64().unwrap()).collect::<HashSet<_>>().len(), total);
    let api =
        queries::list_shipments(&conn, &ShipmentQuery { limit: Some(500), ..Default::default() }).unwrap();
    let page = queries::list_shipments_page(&conn, &ShipmentQuery { limit: Some(500), ..Default::default() })
        .unwrap();
    assert_eq!(api.items, page.items);
    assert_eq!(api.next, page.next);

    for filter in [
        ShipmentQuery { tag: Some("Delivered".into()), ..Default::default() },
        ShipmentQuery { q: Some("tn0001".into()), ..Default::default() },
        ShipmentQuery { q: Some("winter".into()), ..Default::default() },
    ] {
        let rows = lines(&export_s(&conn, &filter, ExportOptions::default()));
        assert_eq!(rows.len() as i64, queries::count_shipments(&conn, &filter).unwrap(), "{filter:?}");
        assert!(!rows.is_empty(), "{filter:?}");
        if let Some(tag) = &filter.tag {
            assert!(rows.iter().all(|r| r["tag"] == tag.as_str()));
        }
    }

    // CSV quoting of a title with a comma and quotes.
    let csv = export_s(
        &conn,
        &ShipmentQuery { q: Some("winter".into()), ..Default::default() },
        ExportOptions { format: ExportFormat::Csv, include_bodies: false },
    );
    assert!(csv.contains(",\"Boots, \"\"winter\"\" edition\","), "{csv}");

    // A snapshot: shipments updated by the writer in the middle of the export are neither skipped
    // nor exported twice.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut out = Vec::new();
    let mut updated = false;
    export_shipments(&conn, &ShipmentQuery::default(), ExportOptions::default(), &mut out, &mut |p| {
        if p.rows > 0 && !updated {
            updated = true;
            // Newer updates for shipments not exported yet (the oldest ones).
            // 99_800 + i has the tracking number of delivery 400 + i: among the least recently updated.
            for n in 0..40 {
                rt.block_on(store.insert(delivery(99_800 + n, Tag::Delivered, true, None))).unwrap();
            }
        }
    })
    .unwrap();
    assert!(updated);
    let rows = lines(&String::from_utf8(out).unwrap());
    assert_eq!(rows.len(), total);
    assert_eq!(rows.iter().map(|s| s["id"].as_i64().unwrap()).collect::<HashSet<_>>().len(), total);
    store.close();
}

#[test]
fn a_channel_writer_streams_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path(), 700);
    let conn = queries::open_read_only(dir.path()).unwrap();
    let (direct, _) = export_d(&conn, &DeliveryQuery::default(), ExportOptions::default());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let path = dir.path().to_owned();
    let streamed = rt.block_on(async move {
        let (mut writer, mut rx) = ChannelWriter::new(2);
        let export = tokio::task::spawn_blocking(move || {
            let conn = queries::open_read_only(&path).unwrap();
            export_deliveries(
                &conn,
                &DeliveryQuery::default(),
                ExportOptions::default(),
                &mut writer,
                &mut |_| {},
            )
        });
        let mut bytes = Vec::new();
        while let Some(chunk) = rx.recv().await {
            assert!(chunk.len() <= 64 * 1024);
            bytes.extend_from_slice(&chunk);
        }
        export.await.unwrap().unwrap();
        bytes
    });
    assert_eq!(String::from_utf8(streamed).unwrap(), direct);
    store.close();
}
