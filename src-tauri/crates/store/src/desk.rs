//! The merchant's desk: which shipments need attention now (exception, failed attempt, late, stuck,
//! waiting for pickup), the home page's groups, the clock's alerts (each raised once per shipment and
//! kind), archiving, and removing test data. Ages count from the courier's checkpoint times and the
//! shipment's due date, never from when Shipwatch received a delivery.
//!
//! Every function takes the clock as an argument (`now_ms`), so tests control time.

use rusqlite::Connection;
use shipwatch_api::{AttentionKind, Desk, ShipmentItem, TestDataRemoved};

use crate::Result;

/// The user's thresholds (settings `stuck_after_days`, `pickup_after_days`, `archive_after_days`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionRules {
    pub stuck_after_days: u32,
    pub pickup_after_days: u32,
    pub archive_after_days: u32,
}

impl Default for AttentionRules {
    fn default() -> Self {
        AttentionRules { stuck_after_days: 5, pickup_after_days: 3, archive_after_days: 3 }
    }
}

/// The clock: now, and the local day's bounds for "arriving today" and "delivered yesterday".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeskClock {
    pub now_ms: i64,
    /// The local time zone's offset from UTC at `now_ms`, in seconds (east positive).
    pub utc_offset_s: i32,
}

/// A late or stuck shipment the clock has not alerted about yet.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockAlert {
    pub shipment: ShipmentItem,
    pub attention: shipwatch_api::Attention,
}

/// The home page (test and archived shipments left out).
pub fn desk(_conn: &Connection, clock: DeskClock, _rules: &AttentionRules) -> Result<Desk> {
    // TODO(store helper): implement.
    Ok(Desk {
        attention: Vec::new(),
        arriving_today: shipwatch_api::DeskGroup { items: Vec::new(), total: 0 },
        in_transit: shipwatch_api::DeskGroup { items: Vec::new(), total: 0 },
        delivered_recently: shipwatch_api::DeskGroup { items: Vec::new(), total: 0 },
        test_shipments: 0,
        now: crate::queries::rfc3339_ms(clock.now_ms),
    })
}

/// How many shipments need attention now (the status bar and tray; test ones left out).
pub fn attention_count(_conn: &Connection, _clock: DeskClock, _rules: &AttentionRules) -> Result<i64> {
    Ok(0)
}

/// Late and stuck shipments (of `kinds`) not alerted yet for their current due date / last scan.
pub fn due_alerts(
    _conn: &Connection,
    _clock: DeskClock,
    _rules: &AttentionRules,
    _kinds: &[AttentionKind],
) -> Result<Vec<ClockAlert>> {
    Ok(Vec::new())
}

/// Records that the clock alerted about `shipment_id` for `kind`, so it alerts once (again only
/// after the due date or the last scan changes).
pub fn mark_alerted(_conn: &Connection, _shipment_id: i64, _kind: AttentionKind, _now_ms: i64) -> Result<()> {
    Ok(())
}

/// Archives (or brings back) a shipment; `NotFound` when there is none.
pub fn set_archived(conn: &Connection, id: i64, _archived: bool, _now_ms: i64) -> Result<ShipmentItem> {
    crate::queries::shipment_item(conn, id)
}

/// Archives delivered shipments delivered before `before_ms`; returns how many.
pub fn archive_delivered(_conn: &Connection, _before_ms: i64) -> Result<usize> {
    Ok(0)
}

/// Deletes every test delivery and the shipments only test deliveries built.
pub fn remove_test_data(_conn: &Connection) -> Result<TestDataRemoved> {
    Ok(TestDataRemoved { shipments: 0, deliveries: 0 })
}
