//! What a dictionary buys on AfterShip-shaped bodies, and what compression costs per body.
//!
//! The sizes are deterministic; the timings are printed, never asserted, and only mean something
//! in a release build:
//!
//! ```text
//! cargo test --release -p shipwatch-bodies --test figures -- --nocapture
//! cargo test --release -p shipwatch-bodies --test figures -- --ignored --nocapture   # the sweep
//! ```

mod common;

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{aftership_body, aftership_headers};
use shipwatch_bodies::{
    train, Compressor, Decompressor, Dictionary, DEFAULT_DICTIONARY_SIZE, DEFAULT_LEVEL, RAW,
};

/// Bodies the dictionary is trained on.
fn training_set(count: u64) -> Vec<Vec<u8>> {
    (0..count).map(aftership_body).collect()
}

/// Similar bodies the dictionary has not seen.
fn unseen_set() -> Vec<Vec<u8>> {
    (1_000_000..1_000_200).map(aftership_body).collect()
}

/// Mean stored size of `bodies` through `compressor`, checking each round trip.
fn mean_stored(compressor: &Compressor, decompressor: &Decompressor, bodies: &[Vec<u8>]) -> f64 {
    let total: usize = bodies
        .iter()
        .map(|body| {
            let (codec, stored) = compressor.compress(body).unwrap();
            assert_eq!(&decompressor.decompress(codec, &stored).unwrap(), body);
            stored.len()
        })
        .sum();
    total as f64 / bodies.len() as f64
}

fn mean_len(bodies: &[Vec<u8>]) -> f64 {
    bodies.iter().map(Vec::len).sum::<usize>() as f64 / bodies.len() as f64
}

fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug build: timings are not representative, use --release"
    } else {
        "release build"
    }
}

#[test]
fn a_dictionary_makes_similar_bodies_much_smaller() {
    let started = Instant::now();
    let samples = training_set(500);
    let bytes = train(&samples, DEFAULT_DICTIONARY_SIZE).unwrap();
    let trained_in = started.elapsed();
    let dict = Dictionary { id: 1, bytes };
    let unseen = unseen_set();
    let headers: Vec<Vec<u8>> =
        unseen.iter().enumerate().map(|(i, body)| aftership_headers(i as u64, body.len())).collect();
    let decompressor = Decompressor::new([dict.clone()]).unwrap();

    println!(
        "dictionary: {} bytes (asked {}), trained from {} bodies ({} bytes) in {:?} ({})",
        dict.bytes.len(),
        DEFAULT_DICTIONARY_SIZE,
        samples.len(),
        samples.iter().map(Vec::len).sum::<usize>(),
        trained_in,
        build()
    );
    println!(
        "{} unseen bodies, mean original {:.0} bytes; {} header blocks, mean {:.0} bytes",
        unseen.len(),
        mean_len(&unseen),
        headers.len(),
        mean_len(&headers)
    );
    println!("level | body: zstd no dict | zstd with dict | headers: no dict | with dict");
    for level in [3, 9] {
        let plain = Compressor::new(None, level).unwrap();
        let with = Compressor::new(Some(&dict), level).unwrap();
        let (body_plain, body_dict) =
            (mean_stored(&plain, &decompressor, &unseen), mean_stored(&with, &decompressor, &unseen));
        let (head_plain, head_dict) =
            (mean_stored(&plain, &decompressor, &headers), mean_stored(&with, &decompressor, &headers));
        println!(
            "{level:>5} | {body_plain:>18.0} | {body_dict:>14.0} | {head_plain:>16.0} | {head_dict:>9.0}"
        );
        assert!(body_dict < body_plain, "level {level}: {body_dict} vs {body_plain}");
        assert!(body_plain < mean_len(&unseen));
    }
}

/// Bodies of about 5 KB.
fn five_kb_bodies() -> Vec<Vec<u8>> {
    let bodies: Vec<Vec<u8>> = (2_000_000..2_010_000)
        .map(aftership_body)
        .filter(|b| (4_750..5_250).contains(&b.len()))
        .take(64)
        .collect();
    assert_eq!(bodies.len(), 64);
    bodies
}

/// Mean time of `f` per body, over at least `min` of wall time.
fn per_body(bodies: &[Vec<u8>], min: Duration, mut f: impl FnMut(&[u8])) -> f64 {
    for body in bodies {
        f(body); // warm up
    }
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < min {
        for body in bodies {
            f(black_box(body));
        }
        calls += bodies.len() as u64;
    }
    started.elapsed().as_secs_f64() * 1e6 / calls as f64
}

/// A named way to compress a body.
type Way<'a> = (&'static str, Box<dyn Fn(&[u8]) + 'a>);

#[test]
fn time_per_five_kb_body() {
    let samples = training_set(500);
    let dict = Dictionary { id: 1, bytes: train(&samples, DEFAULT_DICTIONARY_SIZE).unwrap() };
    let bodies = five_kb_bodies();
    let min = Duration::from_millis(if cfg!(debug_assertions) { 100 } else { 300 });
    println!("µs per ~5 KB body (mean {:.0} bytes), {}", mean_len(&bodies), build());

    let decompressor = Decompressor::new([dict.clone()]).unwrap();
    for level in [1, 3, 6, 9] {
        for with_dict in [false, true] {
            let compressor = Compressor::new(with_dict.then_some(&dict), level).unwrap();
            let compress = per_body(&bodies, min, |b| {
                black_box(compressor.compress(b).unwrap());
            });
            let stored: Vec<(i64, Vec<u8>)> =
                bodies.iter().map(|b| compressor.compress(b).unwrap()).collect();
            assert!(stored.iter().all(|(codec, _)| *codec != RAW));
            let mut i = 0;
            let decompress = per_body(&bodies, min, |_| {
                let (codec, s) = &stored[i % stored.len()];
                black_box(decompressor.decompress(*codec, s).unwrap());
                i += 1;
            });
            println!(
                "level {level} {:<12} compress {compress:>7.1} µs, decompress {decompress:>6.1} µs",
                if with_dict { "with dict" } else { "no dict" }
            );
        }
    }

    // How the compressor could hold zstd's context, at the default level with the dictionary:
    // what `Compressor` does (a pool of contexts), a context made per call from the prepared
    // dictionary, the dictionary's raw bytes loaded per call, and one context behind a mutex.
    let level = DEFAULT_LEVEL;
    let pooled = Compressor::new(Some(&dict), level).unwrap();
    let prepared = zstd::dict::EncoderDictionary::copy(&dict.bytes, level);
    let mutexed = Mutex::new(zstd::bulk::Compressor::with_prepared_dictionary(&prepared).unwrap());
    let ways: [Way; 4] = [
        (
            "pooled context (Compressor)",
            Box::new(|b| {
                black_box(pooled.compress(b).unwrap());
            }),
        ),
        (
            "context per call, prepared dict",
            Box::new(|b| {
                let mut c = zstd::bulk::Compressor::with_prepared_dictionary(&prepared).unwrap();
                black_box(c.compress(b).unwrap());
            }),
        ),
        (
            "context per call, raw dict bytes",
            Box::new(|b| {
                let mut c = zstd::bulk::Compressor::with_dictionary(level, &dict.bytes).unwrap();
                black_box(c.compress(b).unwrap());
            }),
        ),
        (
            "one context behind a Mutex",
            Box::new(|b| {
                black_box(mutexed.lock().unwrap().compress(b).unwrap());
            }),
        ),
    ];
    for (name, f) in &ways {
        println!("level {level} with dict, {name:<34} {:>7.1} µs", per_body(&bodies, min, f));
    }

    // And for decompression: pooled context (Decompressor) vs a context per call.
    let stored: Vec<Vec<u8>> = bodies.iter().map(|b| pooled.compress(b).unwrap().1).collect();
    let ddict = zstd::dict::DecoderDictionary::copy(&dict.bytes);
    let mut i = 0;
    let pooled_d = per_body(&bodies, min, |_| {
        black_box(decompressor.decompress(2, &stored[i % stored.len()]).unwrap());
        i += 1;
    });
    let mut i = 0;
    let per_call_d = per_body(&bodies, min, |_| {
        let mut d = zstd::bulk::Decompressor::with_prepared_dictionary(&ddict).unwrap();
        black_box(d.decompress(&stored[i % stored.len()], 16 << 20).unwrap());
        i += 1;
    });
    println!("decompress with dict: pooled context (Decompressor) {pooled_d:.1} µs, context per call {per_call_d:.1} µs");
}

/// Levels, dictionary sizes and sample counts; slow, run on demand (see the file's doc).
#[test]
#[ignore]
fn sweep() {
    let unseen = unseen_set();
    let bodies = five_kb_bodies();
    let min = Duration::from_millis(200);
    println!(
        "unseen: {} bodies, mean {:.0} bytes; timing on {} ~5 KB bodies; {}",
        unseen.len(),
        mean_len(&unseen),
        bodies.len(),
        build()
    );

    println!("\nsamples | dict bytes | train time | mean stored at level 3 (no dict {:.0})", {
        let plain = Compressor::new(None, 3).unwrap();
        mean_stored(&plain, &Decompressor::new([]).unwrap(), &unseen)
    });
    for count in [100, 200, 500, 1_000, 2_000] {
        let samples = training_set(count);
        for size in [16 * 1024, 32 * 1024, 64 * 1024, 112 * 1024] {
            let started = Instant::now();
            match train(&samples, size) {
                Ok(bytes) => {
                    let took = started.elapsed();
                    let dict = Dictionary { id: 1, bytes };
                    let c = Compressor::new(Some(&dict), 3).unwrap();
                    let d = Decompressor::new([dict.clone()]).unwrap();
                    println!(
                        "{count:>7} | {:>10} | {:>8.0?} | {:.0}",
                        dict.bytes.len(),
                        took,
                        mean_stored(&c, &d, &unseen)
                    );
                }
                Err(e) => println!("{count:>7} | {size:>10} | failed: {e}"),
            }
        }
    }

    println!("\nlevel | no dict: stored, µs | 64 KiB dict: stored, µs | 112 KiB dict: stored, µs");
    let samples = training_set(500);
    let dicts: Vec<Dictionary> = [64 * 1024, 112 * 1024]
        .into_iter()
        .map(|size| Dictionary { id: 1, bytes: train(&samples, size).unwrap() })
        .collect();
    for level in [1, 2, 3, 4, 5, 6, 7, 9, 12, 15, 19] {
        let mut line = format!("{level:>5}");
        for dict in [None, Some(&dicts[0]), Some(&dicts[1])] {
            let c = Compressor::new(dict, level).unwrap();
            let d = Decompressor::new(dict.cloned()).unwrap();
            let size = mean_stored(&c, &d, &unseen);
            let us = per_body(&bodies, min, |b| {
                black_box(c.compress(b).unwrap());
            });
            line += &format!(" | {size:>7.0} {us:>7.1} µs");
        }
        println!("{line}");
    }
}
