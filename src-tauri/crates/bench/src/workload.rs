//! The deliveries the benchmark sends: distinct AfterShip-shaped bodies (a fresh `event_id` and
//! tracking number each, so every one is a new event and a new shipment), signed the way AfterShip
//! signs them, all generated before any timing starts.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use shipwatch_aftership::sample::{sample_body, SampleOptions};
use shipwatch_aftership::{sign, Tag};

/// The two body sizes of the issue: about 2 KB (one checkpoint; AfterShip's fixtures are about
/// 1.7 KB) and about 17 KB (the `Content-Length` of AfterShip's sample request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Large,
}

impl Size {
    pub const ALL: [Size; 2] = [Size::Small, Size::Large];

    pub fn checkpoints(self) -> usize {
        match self {
            Size::Small => 1,
            Size::Large => SampleOptions::CHECKPOINTS_FOR_17_KB,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }
}

/// Why a batch of deliveries exists; part of every id so no two batches of a run collide.
#[derive(Clone, Copy, Debug)]
pub enum Batch {
    Warmup,
    Measured,
    Steady,
}

impl Batch {
    fn code(self) -> u16 {
        match self {
            Batch::Warmup => 1,
            Batch::Measured => 2,
            Batch::Steady => 3,
        }
    }
}

/// One signed delivery, ready to send.
pub struct Delivery {
    pub body: Bytes,
    /// The `aftership-hmac-sha256` header value.
    pub signature: String,
}

/// Deliveries of one size and batch.
pub struct Deliveries {
    pub size: Size,
    pub items: Vec<Delivery>,
}

impl Deliveries {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn total_bytes(&self) -> u64 {
        self.items.iter().map(|d| d.body.len() as u64).sum()
    }

    pub fn mean_bytes(&self) -> u64 {
        if self.items.is_empty() {
            0
        } else {
            self.total_bytes() / self.items.len() as u64
        }
    }
}

/// Generates `count` distinct signed deliveries, on every core (it is CPU work done before timing).
pub fn generate(size: Size, batch: Batch, run_id: u32, count: usize, secret: &str) -> Deliveries {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let per_thread = count.div_ceil(threads).max(1);
    let mut items: Vec<Delivery> = Vec::with_capacity(count);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(per_thread)
            .map(|start| {
                let end = (start + per_thread).min(count);
                scope.spawn(move || {
                    (start..end).map(|index| one(size, batch, run_id, index, ts, secret)).collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A generator thread only panics if the sample builder itself is broken.
            items.extend(handle.join().expect("delivery generator thread panicked"));
        }
    });
    Deliveries { size, items }
}

fn one(size: Size, batch: Batch, run_id: u32, index: usize, ts: i64, secret: &str) -> Delivery {
    let size_code = match size {
        Size::Small => 0x5,
        Size::Large => 0x1,
    };
    // A random UUID v4, as AfterShip's event ids are: in no order (sequential ones would let
    // whatever the store keeps by event id append at its end, which real deliveries never do).
    let r: u128 = rand::random::<u128>() & !(0xf << 76) & !(0x3 << 62) | (0x4 << 76) | (0x2 << 62);
    let event_id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        r >> 96,
        (r >> 80) & 0xffff,
        (r >> 64) & 0xffff,
        (r >> 48) & 0xffff,
        r & 0xffff_ffff_ffff
    );
    let tracking_number = format!("9400SW{run_id:08X}{}{size_code}{index:08}", batch.code());
    let mut options = SampleOptions::new(event_id, tracking_number, Tag::InTransit, ts);
    options.checkpoints = size.checkpoints();
    let body = sample_body(&options);
    let signature = sign(secret, &body);
    Delivery { body: Bytes::from(body), signature }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_distinct_and_about_the_right_size() {
        let small = generate(Size::Small, Batch::Measured, 7, 50, "s3cret");
        let large = generate(Size::Large, Batch::Measured, 7, 3, "s3cret");
        assert_eq!(small.len(), 50);
        let ids: std::collections::HashSet<_> = small.items.iter().map(|d| d.body.clone()).collect();
        assert_eq!(ids.len(), 50);
        assert!((1_500..3_000).contains(&small.mean_bytes()), "small is {} bytes", small.mean_bytes());
        assert!((15_000..19_000).contains(&large.mean_bytes()), "large is {} bytes", large.mean_bytes());
        assert_eq!(small.items[0].signature, sign("s3cret", &small.items[0].body));
    }
}
