//! Exact round trips, the codec column, and the ways decompression must fail.

mod common;

use std::sync::{Arc, OnceLock};

use common::{aftership_body, Rng};
use shipwatch_bodies::{
    train, BodiesError, Codec, Compressor, Decompressor, Dictionary, DEFAULT_DICTIONARY_SIZE, DEFAULT_LEVEL,
    DEFAULT_MAX_DECOMPRESSED_SIZE, MIN_SAMPLES, RAW, ZSTD,
};

/// Two dictionaries trained once for the whole file: 1 from even seeds, 2 from odd ones.
fn dictionaries() -> &'static (Dictionary, Dictionary) {
    static DICTS: OnceLock<(Dictionary, Dictionary)> = OnceLock::new();
    DICTS.get_or_init(|| {
        let train_on = |first: u64| {
            let samples: Vec<Vec<u8>> = (0..150).map(|i| aftership_body(first + 2 * i)).collect();
            train(&samples, 16 * 1024).expect("training")
        };
        (Dictionary { id: 1, bytes: train_on(0) }, Dictionary { id: 2, bytes: train_on(1) })
    })
}

fn round_trip(compressor: &Compressor, decompressor: &Decompressor, body: &[u8]) -> (i64, usize) {
    let (codec, stored) = compressor.compress(body).unwrap();
    let back = decompressor.decompress(codec, &stored).unwrap();
    assert_eq!(back, body, "codec {codec}");
    (codec, stored.len())
}

#[test]
fn generated_bodies_are_valid_json() {
    for seed in 0..300 {
        let body = aftership_body(seed);
        let value: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{}", String::from_utf8_lossy(&body)));
        assert_eq!(value["event"], "tracking_update");
        assert!(!value["msg"]["checkpoints"].as_array().unwrap().is_empty());
    }
}

#[test]
fn json_bodies_round_trip_without_dictionary() {
    let compressor = Compressor::new(None, DEFAULT_LEVEL).unwrap();
    let decompressor = Decompressor::new([]).unwrap();
    assert_eq!(compressor.dictionary_id(), None);
    for seed in 0..50 {
        let body = aftership_body(seed);
        let (codec, len) = round_trip(&compressor, &decompressor, &body);
        assert_eq!(codec, ZSTD);
        assert!(len < body.len() / 2, "{len} of {}", body.len());
    }
    // The published fixture's shape, compact (no whitespace) too.
    let body = aftership_body(7);
    let compact = serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(&body).unwrap()).unwrap();
    assert_eq!(round_trip(&compressor, &decompressor, &compact).0, ZSTD);
}

#[test]
fn empty_body_is_stored_raw() {
    let (d1, _) = dictionaries();
    for compressor in
        [Compressor::new(None, DEFAULT_LEVEL).unwrap(), Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap()]
    {
        let (codec, stored) = compressor.compress(b"").unwrap();
        assert_eq!((codec, stored.len()), (RAW, 0));
        let decompressor = Decompressor::new([]).unwrap();
        assert_eq!(decompressor.decompress(RAW, &stored).unwrap(), b"");
    }
}

#[test]
fn random_binary_and_tiny_bodies_fall_back_to_raw() {
    let (d1, _) = dictionaries();
    let decompressor = Decompressor::new([d1.clone()]).unwrap();
    for compressor in [
        Compressor::new(None, DEFAULT_LEVEL).unwrap(),
        Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap(),
        Compressor::new(None, 19).unwrap(),
    ] {
        let mut rng = Rng::new(42);
        for len in [1, 2, 7, 100, 5_000, 200_000] {
            let body = rng.bytes(len);
            let (codec, stored) = compressor.compress(&body).unwrap();
            assert_eq!(codec, RAW, "{len} random bytes");
            assert_eq!(stored, body);
            assert_eq!(decompressor.decompress(codec, &stored).unwrap(), body);
        }
        // A one-byte body cannot get smaller either.
        assert_eq!(compressor.compress(b"{").unwrap(), (RAW, b"{".to_vec()));
    }
}

#[test]
fn non_utf8_bodies_round_trip() {
    let (d1, _) = dictionaries();
    let decompressor = Decompressor::new([d1.clone()]).unwrap();
    let mut body = aftership_body(3);
    // Latin-1 bytes, a lone continuation byte, NULs, an invalid lead byte.
    body.extend_from_slice(b"\xe9t\xe9 \x80\x00\x00\xff\xfe garbage");
    body.extend(std::iter::repeat_n(0xC3u8, 300));
    assert!(std::str::from_utf8(&body).is_err());
    for compressor in
        [Compressor::new(None, DEFAULT_LEVEL).unwrap(), Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap()]
    {
        let (codec, _) = round_trip(&compressor, &decompressor, &body);
        assert_ne!(codec, RAW);
    }
}

#[test]
fn a_decompressor_with_several_dictionaries_picks_the_right_one() {
    let (d1, d2) = dictionaries();
    let with_1 = Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap();
    let with_2 = Compressor::new(Some(d2), 9).unwrap();
    let plain = Compressor::new(None, DEFAULT_LEVEL).unwrap();
    assert_eq!(with_1.dictionary_id(), Some(1));
    let decompressor = Decompressor::new([d1.clone(), d2.clone()]).unwrap();
    for seed in 1_000..1_040 {
        let body = aftership_body(seed);
        assert_eq!(round_trip(&with_1, &decompressor, &body).0, 2);
        assert_eq!(round_trip(&with_2, &decompressor, &body).0, 3);
        assert_eq!(round_trip(&plain, &decompressor, &body).0, ZSTD);
    }
    // Added later, as when the store trains a new dictionary.
    let mut later = Decompressor::new([]).unwrap();
    let (codec, stored) = with_1.compress(&aftership_body(5)).unwrap();
    assert!(matches!(later.decompress(codec, &stored), Err(BodiesError::UnknownDictionary(1))));
    later.add(d1).unwrap();
    assert!(later.has_dictionary(1));
    assert_eq!(later.decompress(codec, &stored).unwrap(), aftership_body(5));
}

#[test]
fn unknown_dictionary_and_codec_error() {
    let (d1, d2) = dictionaries();
    let compressor = Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap();
    let (codec, stored) = compressor.compress(&aftership_body(9)).unwrap();
    assert_eq!(codec, 2);

    let only_2 = Decompressor::new([d2.clone()]).unwrap();
    let err = only_2.decompress(codec, &stored).unwrap_err();
    assert!(matches!(err, BodiesError::UnknownDictionary(1)), "{err}");
    assert_eq!(err.to_string(), "the body was compressed with dictionary 1, which is not loaded");
    let err = only_2.decompress(99, &stored).unwrap_err();
    assert!(matches!(err, BodiesError::UnknownDictionary(98)), "{err}");

    // A body made with dictionary 1 but labelled as dictionary 2: zstd sees the frame's
    // dictionary id differ, and refuses rather than returning garbage.
    let err = only_2.decompress(3, &stored).unwrap_err();
    assert!(matches!(err, BodiesError::Corrupt { .. }), "{err}");
    // Labelled as no dictionary at all.
    let err = only_2.decompress(ZSTD, &stored).unwrap_err();
    assert!(matches!(err, BodiesError::Corrupt { .. }), "{err}");

    for bad in [-1, -2, i64::MIN] {
        let err = only_2.decompress(bad, &stored).unwrap_err();
        assert!(matches!(err, BodiesError::UnknownCodec(n) if n == bad), "{err}");
    }
}

#[test]
fn corrupt_data_errors() {
    let (d1, _) = dictionaries();
    let decompressor = Decompressor::new([d1.clone()]).unwrap();
    let body = aftership_body(11);
    for compressor in
        [Compressor::new(None, DEFAULT_LEVEL).unwrap(), Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap()]
    {
        let (codec, stored) = compressor.compress(&body).unwrap();
        // Every single flipped byte, every truncation, and some trailing garbage.
        // A flip must never give other bytes back: it errs, or (for a header bit zstd does not
        // need, if any) still gives the original.
        let mut errors = 0;
        for i in 0..stored.len() {
            let mut bad = stored.clone();
            bad[i] ^= 0x41;
            match decompressor.decompress(codec, &bad) {
                Err(_) => errors += 1,
                Ok(back) => assert_eq!(back, body, "flip at {i} of {}", stored.len()),
            }
        }
        assert!(errors >= stored.len() - 2, "{errors} errors of {}", stored.len());
        for len in 0..stored.len() {
            assert!(decompressor.decompress(codec, &stored[..len]).is_err());
        }
        let mut extra = stored.clone();
        extra.extend_from_slice(b"trailing");
        assert!(decompressor.decompress(codec, &extra).is_err());
        // Still fine after all those failures (the pooled contexts were reset).
        assert_eq!(decompressor.decompress(codec, &stored).unwrap(), body);
    }
    // Not zstd at all.
    let err = decompressor.decompress(ZSTD, b"{\"not\": \"zstd\"}").unwrap_err();
    assert!(matches!(err, BodiesError::Corrupt { codec: Codec::Zstd, .. }), "{err}");
    assert!(err.to_string().starts_with("the stored body could not be decompressed (zstd): "));
}

#[test]
fn a_decompression_bomb_errors() {
    let decompressor = Decompressor::new([]).unwrap();
    let bound = DEFAULT_MAX_DECOMPRESSED_SIZE;
    assert_eq!(decompressor.max_size(), bound);

    // A frame that records its size (as every frame made here does): refused before allocating.
    let zeros = vec![0u8; bound + 1];
    let bomb = zstd::bulk::compress(&zeros, 19).unwrap();
    assert!(bomb.len() < 2_000, "{} bytes", bomb.len());
    let err = decompressor.decompress(ZSTD, &bomb).unwrap_err();
    assert!(matches!(err, BodiesError::TooLarge { limit } if limit == bound), "{err}");
    assert_eq!(err.to_string(), format!("the body decompresses to more than {bound} bytes; refused"));

    // A streamed frame that does not record its size: decompression stops at the bound.
    let mut streamed = Vec::new();
    {
        use std::io::Write;
        let mut encoder = zstd::stream::Encoder::new(&mut streamed, 3).unwrap();
        encoder.include_contentsize(false).unwrap();
        for _ in 0..20 {
            encoder.write_all(&vec![b'a'; 1024 * 1024]).unwrap();
        }
        encoder.finish().unwrap();
    }
    assert!(streamed.len() < 10_000, "{} bytes", streamed.len());
    let err = decompressor.decompress(ZSTD, &streamed).unwrap_err();
    assert!(matches!(err, BodiesError::TooLarge { .. }), "{err}");

    // Exactly at the bound is allowed; one byte over a lowered bound is not.
    let at_bound = zstd::bulk::compress(&zeros[..bound], 3).unwrap();
    assert_eq!(decompressor.decompress(ZSTD, &at_bound).unwrap().len(), bound);
    let small = Decompressor::new([]).unwrap().with_max_size(1_000);
    let just_over = zstd::bulk::compress(&[7u8; 1_001], 3).unwrap();
    assert!(matches!(small.decompress(ZSTD, &just_over), Err(BodiesError::TooLarge { limit: 1_000 })));
    // Two frames that each fit but together do not.
    let half = zstd::bulk::compress(&[7u8; 600], 3).unwrap();
    let two = [half.clone(), half].concat();
    assert!(matches!(small.decompress(ZSTD, &two), Err(BodiesError::TooLarge { limit: 1_000 })));
}

#[test]
fn codec_column_scheme() {
    assert_eq!(Codec::from_column(0).unwrap(), Codec::Raw);
    assert_eq!(Codec::from_column(1).unwrap(), Codec::Zstd);
    assert_eq!(Codec::from_column(2).unwrap(), Codec::ZstdDict(1));
    assert_eq!(Codec::from_column(i64::MAX).unwrap(), Codec::ZstdDict(i64::MAX - 1));
    assert!(matches!(Codec::from_column(-1), Err(BodiesError::UnknownCodec(-1))));
    assert_eq!(Codec::ZstdDict(1).to_column().unwrap(), 2);
    assert_eq!(Codec::Raw.to_column().unwrap(), RAW);
    assert_eq!(Codec::Zstd.to_column().unwrap(), ZSTD);
    assert_eq!(Codec::ZstdDict(7).dictionary_id(), Some(7));
    assert_eq!(Codec::Zstd.dictionary_id(), None);
    for bad in [0, -5, i64::MAX] {
        assert!(matches!(
            Codec::ZstdDict(bad).to_column(),
            Err(BodiesError::InvalidDictionaryId(n)) if n == bad
        ));
    }
    assert_eq!(Codec::ZstdDict(4).to_string(), "zstd with dictionary 4");
}

#[test]
fn invalid_setup_errors() {
    let (d1, _) = dictionaries();
    assert!(matches!(Compressor::new(None, 23), Err(BodiesError::InvalidLevel { level: 23, .. })));
    for id in [0, -1, i64::MAX] {
        let dict = Dictionary { id, bytes: d1.bytes.clone() };
        assert!(matches!(
            Compressor::new(Some(&dict), DEFAULT_LEVEL),
            Err(BodiesError::InvalidDictionaryId(n)) if n == id
        ));
        assert!(matches!(
            Decompressor::new([dict]),
            Err(BodiesError::InvalidDictionaryId(n)) if n == id
        ));
    }
    // A dictionary whose header is damaged: zstd refuses to prepare it.
    let mut damaged = d1.bytes.clone();
    damaged.truncate(100);
    let dict = Dictionary { id: 5, bytes: damaged };
    let err = Decompressor::new([dict.clone()]).unwrap_err();
    assert!(matches!(err, BodiesError::InvalidDictionary { id: 5, .. }), "{err}");
    assert!(matches!(
        Compressor::new(Some(&dict), DEFAULT_LEVEL),
        Err(BodiesError::InvalidDictionary { id: 5, .. })
    ));
}

#[test]
fn training_needs_enough_samples() {
    let few: Vec<Vec<u8>> = (0..10).map(aftership_body).collect();
    let err = train(&few, DEFAULT_DICTIONARY_SIZE).unwrap_err();
    assert!(matches!(err, BodiesError::TooFewSamples { got: 10, .. }), "{err}");
    // Empty samples do not count.
    let empties = vec![Vec::new(); 1_000];
    assert!(matches!(
        train(&empties, DEFAULT_DICTIONARY_SIZE),
        Err(BodiesError::TooFewSamples { got: 0, .. })
    ));
    // Enough samples, too few bytes for the size asked; fine for a smaller dictionary.
    let small: Vec<Vec<u8>> =
        (0..MIN_SAMPLES as u64).map(|seed| aftership_body(seed)[..1_000].to_vec()).collect();
    let err = train(&small, DEFAULT_DICTIONARY_SIZE).unwrap_err();
    assert!(
        matches!(err, BodiesError::TooLittleSampleData { got, needed, .. } if got == MIN_SAMPLES * 1_000 && needed == 10 * DEFAULT_DICTIONARY_SIZE),
        "{err}"
    );
    assert!(err.to_string().contains("too few to train a dictionary of 65536 bytes"));
    let dict = train(&small, 8 * 1024).unwrap();
    assert!(!dict.is_empty() && dict.len() <= 8 * 1024);
}

#[test]
fn compressor_and_decompressor_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Compressor>();
    send_sync::<Decompressor>();

    let (d1, d2) = dictionaries();
    let compressor = Arc::new(Compressor::new(Some(d1), DEFAULT_LEVEL).unwrap());
    let decompressor = Arc::new(Decompressor::new([d1.clone(), d2.clone()]).unwrap());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let compressor = Arc::clone(&compressor);
            let decompressor = Arc::clone(&decompressor);
            std::thread::spawn(move || {
                for seed in 0..40 {
                    let body = aftership_body(t * 1_000 + seed);
                    let (codec, stored) = compressor.compress(&body).unwrap();
                    assert_eq!(codec, 2);
                    assert_eq!(decompressor.decompress(codec, &stored).unwrap(), body);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}
