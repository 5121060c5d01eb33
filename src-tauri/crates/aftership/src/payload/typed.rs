//! The fast path of [`super::parse_envelope`]: a typed parse that reads only the fields Shipwatch
//! uses, borrows their text from the body where it can, and skips everything else without building
//! it (the tree parse allocated every key and value of a 17 KB delivery).
//!
//! It is exactly as lenient as the tree parse: a field of the wrong type reads as absent, an object
//! where a list is expected reads as empty, unknown fields are ignored. Anything it cannot read the
//! same way (a repeated key, which the tree parse resolves as "the last one wins") makes it give up,
//! and the caller falls back to the tree parse; the tests compare the two on every shape we know.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;
use serde_json::Value;

use super::{
    Checkpoint, CheckpointDigest, CheckpointIdentity, Envelope, EventKind, Tracking,
    ESTIMATED_DELIVERY_FIELDS,
};
use crate::tags::Tag;

/// Parses `body` the fast way. `Ok(None)`: valid JSON that is not an object. `Err`: give up (not
/// JSON, or a shape only the tree parse reads the same way).
pub(super) fn parse(body: &[u8]) -> Result<Option<Envelope>, serde_json::Error> {
    let Obj(envelope) = from_body::<Obj<RawEnvelope<'_, RawCheckpoint<'_>>>>(body)?;
    Ok(envelope.map(|e| {
        e.into_envelope(|list| {
            let checkpoints: Vec<Checkpoint> = list.into_iter().map(RawCheckpoint::into_checkpoint).collect();
            let digest = CheckpointDigest::of(checkpoints.iter().map(Checkpoint::identity));
            (checkpoints, digest)
        })
    }))
}

/// As [`parse`], but each checkpoint is read only for what identifies and places it, straight into
/// the digest: nothing of it is kept.
pub(super) fn parse_lean(body: &[u8]) -> Result<Option<Envelope>, serde_json::Error> {
    let Obj(envelope) = from_body::<Obj<RawEnvelope<'_, RawCheckpointIdentity<'_>>>>(body)?;
    Ok(envelope.map(|e| {
        e.into_envelope(|list| {
            (Vec::new(), CheckpointDigest::of(list.iter().map(RawCheckpointIdentity::identity)))
        })
    }))
}

/// Deserialises `body`, checking its UTF-8 once for the whole body where it is valid UTF-8 (as every
/// AfterShip delivery is) rather than once per string read: a third of the parse of a 17 KB delivery
/// went to that. A body that is not valid UTF-8 is read byte by byte as before, with the same result.
fn from_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// Turns the checkpoints as read into the stored ones and their digest.
type CheckpointsInto<C> = fn(Vec<C>) -> (Vec<Checkpoint>, CheckpointDigest);

#[derive(DeriveDeserialize)]
#[serde(default, bound(deserialize = "C: Deserialize<'de>"))]
struct RawEnvelope<'a, C> {
    #[serde(borrow)]
    event: Text<'a>,
    #[serde(borrow)]
    event_id: Text<'a>,
    ts: Int,
    is_tracking_first_tag: Bool,
    #[serde(borrow)]
    msg: Obj<RawTracking<'a, C>>,
}

impl<C> Default for RawEnvelope<'_, C> {
    fn default() -> Self {
        RawEnvelope {
            event: Text::default(),
            event_id: Text::default(),
            ts: Int::default(),
            is_tracking_first_tag: Bool::default(),
            msg: Obj::default(),
        }
    }
}

impl<C> RawEnvelope<'_, C> {
    fn into_envelope(self, checkpoints: CheckpointsInto<C>) -> Envelope {
        Envelope {
            event: self.event.get().map(|s| EventKind::parse(&s)),
            event_id: self.event_id.get(),
            ts: self.ts.0,
            is_tracking_first_tag: self.is_tracking_first_tag.0,
            msg: self.msg.0.map(|m| m.into_tracking(checkpoints)),
        }
    }
}

#[derive(DeriveDeserialize)]
#[serde(default, bound(deserialize = "C: Deserialize<'de>"))]
struct RawTracking<'a, C> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    legacy_id: Text<'a>,
    #[serde(borrow)]
    tracking_number: Text<'a>,
    #[serde(borrow)]
    slug: Text<'a>,
    #[serde(borrow)]
    title: Text<'a>,
    #[serde(borrow)]
    order_id: Text<'a>,
    #[serde(borrow)]
    customer_name: Text<'a>,
    #[serde(borrow)]
    customers: List<Named<'a>>,
    #[serde(borrow)]
    tag: Text<'a>,
    #[serde(borrow)]
    subtag: Text<'a>,
    #[serde(borrow)]
    subtag_message: Text<'a>,
    #[serde(borrow)]
    expected_delivery: Text<'a>,
    latest_estimated_delivery: Raw,
    aftership_estimated_delivery_date: Raw,
    courier_estimated_delivery_date: Raw,
    first_estimated_delivery: Raw,
    #[serde(borrow)]
    created_at: Text<'a>,
    #[serde(borrow)]
    updated_at: Text<'a>,
    #[serde(borrow)]
    last_updated_at: Text<'a>,
    #[serde(borrow)]
    courier_tracking_link: Text<'a>,
    #[serde(borrow)]
    courier_redirect_link: Text<'a>,
    #[serde(borrow)]
    signed_by: Text<'a>,
    #[serde(borrow)]
    origin_country_iso3: Text<'a>,
    #[serde(borrow)]
    origin_country_region: Text<'a>,
    #[serde(borrow)]
    destination_country_iso3: Text<'a>,
    #[serde(borrow)]
    destination_country_region: Text<'a>,
    checkpoints: List<C>,
}

impl<C> Default for RawTracking<'_, C> {
    fn default() -> Self {
        RawTracking {
            id: Text::default(),
            legacy_id: Text::default(),
            tracking_number: Text::default(),
            slug: Text::default(),
            title: Text::default(),
            order_id: Text::default(),
            customer_name: Text::default(),
            customers: List::default(),
            tag: Text::default(),
            subtag: Text::default(),
            subtag_message: Text::default(),
            expected_delivery: Text::default(),
            latest_estimated_delivery: Raw::default(),
            aftership_estimated_delivery_date: Raw::default(),
            courier_estimated_delivery_date: Raw::default(),
            first_estimated_delivery: Raw::default(),
            created_at: Text::default(),
            updated_at: Text::default(),
            last_updated_at: Text::default(),
            courier_tracking_link: Text::default(),
            courier_redirect_link: Text::default(),
            signed_by: Text::default(),
            origin_country_iso3: Text::default(),
            origin_country_region: Text::default(),
            destination_country_iso3: Text::default(),
            destination_country_region: Text::default(),
            checkpoints: List::default(),
        }
    }
}

impl<C> RawTracking<'_, C> {
    fn into_tracking(self, read_checkpoints: CheckpointsInto<C>) -> Tracking {
        let (checkpoints, checkpoint_digest) = read_checkpoints(self.checkpoints.0);
        let edd = [
            &self.latest_estimated_delivery,
            &self.aftership_estimated_delivery_date,
            &self.courier_estimated_delivery_date,
            &self.first_estimated_delivery,
        ];
        let expected_delivery = self.expected_delivery.get();
        let best_expected_delivery = expected_delivery.clone().or_else(|| {
            ESTIMATED_DELIVERY_FIELDS.iter().zip(edd).find_map(|((_, field), raw)| {
                raw.0.as_ref().and_then(|o| o.get(*field)).and_then(super::non_empty_str)
            })
        });
        let estimated_delivery: serde_json::Map<String, Value> = ESTIMATED_DELIVERY_FIELDS
            .iter()
            .zip(edd)
            .filter_map(|((object, _), raw)| raw.0.clone().map(|v| (object.to_string(), v)))
            .collect();
        Tracking {
            id: self.id.get(),
            legacy_id: self.legacy_id.get(),
            tracking_number: self.tracking_number.get(),
            slug: self.slug.get(),
            title: self.title.get(),
            order_id: self.order_id.get(),
            customer_name: self
                .customer_name
                .get()
                .or_else(|| self.customers.0.into_iter().find_map(|c| c.name.get())),
            tag: self.tag.get().map(|s| Tag::parse(&s)),
            subtag: self.subtag.get(),
            subtag_message: self.subtag_message.get(),
            expected_delivery,
            best_expected_delivery,
            estimated_delivery: (!estimated_delivery.is_empty()).then_some(Value::Object(estimated_delivery)),
            created_at: self.created_at.get(),
            updated_at: self.updated_at.get(),
            last_updated_at: self.last_updated_at.get(),
            courier_tracking_link: self.courier_tracking_link.get(),
            courier_redirect_link: self.courier_redirect_link.get(),
            signed_by: self.signed_by.get(),
            origin_country: self.origin_country_iso3.get().or_else(|| self.origin_country_region.get()),
            destination_country: self
                .destination_country_iso3
                .get()
                .or_else(|| self.destination_country_region.get()),
            checkpoints,
            checkpoint_digest,
        }
    }
}

#[derive(DeriveDeserialize, Default)]
#[serde(default)]
struct RawCheckpoint<'a> {
    #[serde(borrow)]
    checkpoint_time: Text<'a>,
    #[serde(borrow)]
    tag: Text<'a>,
    #[serde(borrow)]
    subtag: Text<'a>,
    #[serde(borrow)]
    subtag_message: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
    #[serde(borrow)]
    location: Text<'a>,
    #[serde(borrow)]
    city: Text<'a>,
    #[serde(borrow)]
    state: Text<'a>,
    #[serde(borrow)]
    zip: Text<'a>,
    #[serde(borrow)]
    postal_code: Text<'a>,
    #[serde(borrow)]
    country_iso3: Text<'a>,
    #[serde(borrow)]
    country_region: Text<'a>,
    #[serde(borrow)]
    slug: Text<'a>,
    #[serde(borrow)]
    raw_tag: Text<'a>,
    #[serde(borrow)]
    created_at: Text<'a>,
    #[serde(borrow)]
    events: List<Coded<'a>>,
}

impl RawCheckpoint<'_> {
    fn into_checkpoint(self) -> Checkpoint {
        Checkpoint {
            checkpoint_time: self.checkpoint_time.get(),
            tag: self.tag.get().map(|s| Tag::parse(&s)),
            subtag: self.subtag.get(),
            subtag_message: self.subtag_message.get(),
            message: self.message.get(),
            location: self.location.get(),
            city: self.city.get(),
            state: self.state.get(),
            postal_code: self.zip.get().or_else(|| self.postal_code.get()),
            country: self.country_iso3.get().or_else(|| self.country_region.get()),
            slug: self.slug.get(),
            raw_tag: self.raw_tag.get(),
            created_at: self.created_at.get(),
            events: self.events.0.into_iter().filter_map(|e| e.code.get()).collect(),
        }
    }
}

/// A checkpoint read only for what identifies and places it.
#[derive(DeriveDeserialize, Default)]
#[serde(default)]
struct RawCheckpointIdentity<'a> {
    #[serde(borrow)]
    checkpoint_time: Text<'a>,
    #[serde(borrow)]
    tag: Text<'a>,
    #[serde(borrow)]
    subtag: Text<'a>,
    #[serde(borrow)]
    message: Text<'a>,
    #[serde(borrow)]
    location: Text<'a>,
    #[serde(borrow)]
    city: Text<'a>,
    #[serde(borrow)]
    country_iso3: Text<'a>,
    #[serde(borrow)]
    country_region: Text<'a>,
}

impl RawCheckpointIdentity<'_> {
    fn identity(&self) -> CheckpointIdentity<'_> {
        CheckpointIdentity {
            checkpoint_time: self.checkpoint_time.as_str(),
            tag: self.tag.as_str(),
            subtag: self.subtag.as_str(),
            message: self.message.as_str(),
            location: self.location.as_str(),
            city: self.city.as_str(),
            country: self.country_iso3.as_str().or_else(|| self.country_region.as_str()),
        }
    }
}

/// `customers[]`: only the name is read.
#[derive(DeriveDeserialize, Default)]
#[serde(default)]
struct Named<'a> {
    #[serde(borrow)]
    name: Text<'a>,
}

/// `events[]` of a checkpoint: only the code is read.
#[derive(DeriveDeserialize, Default)]
#[serde(default)]
struct Coded<'a> {
    #[serde(borrow)]
    code: Text<'a>,
}

/// Skips the rest of a list or object whose value is not wanted.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods a lenient field does not accept: each reads the value past and
/// yields `$none`. The kinds: `str`, `bool`, `numbers`, `unit` (null), `seq`, `map`.
macro_rules! lenient_rest {
    ($none:expr; $($kind:ident),*) => {
        $(lenient_rest!(@one $kind, $none);)*
    };
    (@one str, $none:expr) => {
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    (@one bool, $none:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    (@one numbers, $none:expr) => {
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    (@one unit, $none:expr) => {
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
    (@one seq, $none:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq)?;
            Ok($none)
        }
    };
    (@one map, $none:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map)?;
            Ok($none)
        }
    };
}

/// A string field, borrowed from the body when it has no escapes. Any other JSON value is `None`.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    /// As the tree parse reads it: `None` when absent, not a string, empty or only whitespace.
    fn get(&self) -> Option<String> {
        self.as_str().map(str::to_string)
    }

    fn as_str(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.trim().is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            lenient_rest!(Text(None); bool, numbers, unit, seq, map);
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// An integer, a float (truncated) or a string holding either, as the tree parse's `lenient_i64`.
#[derive(Default)]
struct Int(Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(Some(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Int, E> {
                Ok(Int(super::lenient_i64(&Value::from(v))))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Int, E> {
                Ok(Int(super::f64_to_i64(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Int, E> {
                Ok(Int(super::lenient_i64(&Value::String(v.to_owned()))))
            }
            lenient_rest!(Int(None); bool, unit, seq, map);
        }
        deserializer.deserialize_any(V)
    }
}

/// `true`/`false`, `"true"`/`"false"`/`"1"`/`"0"` and the numbers 1/0, as the tree parse's `lenient_bool`.
#[derive(Default)]
struct Bool(Option<bool>);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(Some(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Bool, E> {
                Ok(Bool(super::lenient_bool(&Value::from(v))))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Bool, E> {
                Ok(Bool(super::lenient_bool(&Value::from(v))))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Bool, E> {
                Ok(Bool(super::lenient_bool(&Value::from(v))))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bool, E> {
                Ok(Bool(super::lenient_bool(&Value::String(v.to_owned()))))
            }
            lenient_rest!(Bool(None); unit, seq, map);
        }
        deserializer.deserialize_any(V)
    }
}

/// A value kept as sent (the EDD objects); `null` reads as absent.
#[derive(Default)]
struct Raw(Option<Value>);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(Raw((!value.is_null()).then_some(value)))
    }
}

/// An object read as `T`; any other JSON value is `None`.
struct Obj<T>(Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            lenient_rest!(Obj(None); str, bool, numbers, unit, seq);
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A list of objects read as `T`, skipping items that are not objects; anything but a list is empty.
struct List<T>(Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
                while let Some(Obj(item)) = seq.next_element::<Obj<T>>()? {
                    items.extend(item);
                }
                Ok(List(items))
            }
            lenient_rest!(List(Vec::new()); str, bool, numbers, unit, map);
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::parse_envelope_tree;
    use crate::sample::{sample_body, versioned_body, SampleOptions};
    use crate::Tag;

    const FIXTURE: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../tests/fixtures/aftership-v4-tracking-update.json"
    ));

    /// The typed parse reads `body` (no fallback) exactly as the tree parse does.
    fn same(body: &[u8]) {
        let typed = super::parse(body)
            .unwrap_or_else(|e| panic!("the typed parse gave up ({e}) on {}", String::from_utf8_lossy(body)));
        let tree = parse_envelope_tree(body).ok();
        assert_eq!(typed, tree, "typed and tree parses differ on {}", String::from_utf8_lossy(body));
        // The lean parse: the same but for the checkpoints, of which it keeps the same digest.
        let lean = super::parse_lean(body).unwrap_or_else(|e| panic!("the lean parse gave up ({e})"));
        let without_checkpoints = tree.map(|mut e| {
            if let Some(m) = e.msg.as_mut() {
                m.checkpoints.clear();
            }
            e
        });
        assert_eq!(
            lean,
            without_checkpoints,
            "lean and tree parses differ on {}",
            String::from_utf8_lossy(body)
        );
    }

    /// Every place a value sits in `value`, as a pointer.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    out.push(p.clone());
                    pointers(v, p, out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    pointers(v, p, out);
                }
            }
            _ => {}
        }
    }

    fn bodies() -> Vec<Vec<u8>> {
        let mut opts = SampleOptions::new("e-1", "TN1", Tag::OutForDelivery, 1_700_000_000);
        opts.checkpoints = 3;
        vec![
            FIXTURE.to_vec(),
            sample_body(&opts),
            versioned_body(&opts, "2024-04"),
            versioned_body(&opts, "2025-07"),
        ]
    }

    #[test]
    fn typed_parse_matches_the_tree_parse_on_known_bodies() {
        for body in bodies() {
            same(&body);
        }
    }

    /// Each value of each known body, replaced in turn by every other JSON type (and by strings the
    /// lenient readers interpret), reads the same both ways.
    #[test]
    fn typed_parse_matches_the_tree_parse_with_every_value_of_every_type() {
        let replacements = [
            json!(null),
            json!(true),
            json!(0),
            json!(1),
            json!(-7),
            json!(1.9),
            json!(18446744073709551615u64),
            json!(1e300),
            json!("1"),
            json!("true"),
            json!(" 12.5 "),
            json!("   "),
            json!("tab\t\"escaped\" \u{e9}"),
            json!([]),
            json!([1, { "name": "n", "code": "c" }, "x"]),
            json!({}),
            json!({ "name": "n", "code": "c", "datetime": "2026-01-01", "estimated_delivery_date": " " }),
        ];
        let mut checked = 0;
        for body in bodies() {
            let tree: Value = serde_json::from_slice(&body).unwrap();
            let mut at = Vec::new();
            pointers(&tree, String::new(), &mut at);
            for pointer in &at {
                for replacement in &replacements {
                    let mut changed = tree.clone();
                    *changed.pointer_mut(pointer).unwrap() = replacement.clone();
                    same(changed.to_string().as_bytes());
                    checked += 1;
                }
            }
        }
        assert!(checked > 1_000, "only {checked} variants checked");
    }

    #[test]
    fn odd_documents_read_the_same_way() {
        for body in [
            &b"{}"[..],
            b"{\"msg\": null}",
            b"{\"msg\": {\"checkpoints\": {}}}",
            b"{\"msg\": {\"checkpoints\": [null, 1, {\"events\": {\"code\": \"x\"}}]}}",
            b"{\"ts\": \"1700000000\", \"is_tracking_first_tag\": \"TRUE\"}",
            b"{\"event\": \"\\u0074racking_update\", \"event_id\": \"\\ud83d\\ude00\"}",
        ] {
            same(body);
        }
        // Not an object: both say so.
        assert_eq!(super::parse(b"[1, 2]").unwrap(), None);
        assert_eq!(super::parse(b"\"x\"").unwrap(), None);
    }

    /// A body that is not valid UTF-8 is read byte by byte, as before the whole-body check: bytes
    /// that are not UTF-8 in a field nobody reads do not stop the parse; in a field we read, the
    /// typed parse gives up just as `from_slice` does (and the caller falls back to the tree parse).
    #[test]
    fn bodies_that_are_not_utf8_read_as_they_did_byte_by_byte() {
        let ignored = b"{\"event_id\": \"e-1\", \"note\": \"caf\xe9\", \"msg\": {\"tag\": \"Delivered\"}}";
        let typed = super::parse(ignored).expect("a stray byte in an unread field is skipped");
        let envelope = typed.expect("an object");
        assert_eq!(envelope.event_id.as_deref(), Some("e-1"));
        assert_eq!(envelope.msg.unwrap().tag, Some(Tag::Delivered));
        assert!(super::parse_lean(ignored).unwrap().is_some());
        // As serde_json reads bytes itself: the same answer both ways.
        let by_bytes =
            serde_json::from_slice::<super::Obj<super::RawEnvelope<'_, super::RawCheckpoint<'_>>>>(ignored)
                .unwrap()
                .0
                .map(|e| e.event_id.get());
        assert_eq!(by_bytes, Some(Some("e-1".to_owned())));

        let read = b"{\"event_id\": \"e-\xff\", \"msg\": {}}";
        assert!(super::parse(read).is_err(), "a field we read must be UTF-8");
        assert!(super::parse_lean(read).is_err());
    }

    #[test]
    fn repeated_keys_fall_back_to_the_tree_parse_where_the_last_one_wins() {
        let body = br#"{"event_id": "first", "event_id": "second", "msg": {"tag": "InTransit", "tag": "Delivered"}}"#;
        assert!(super::parse(body).is_err(), "the typed parse gives up on a repeated key");
        let envelope = super::super::parse_envelope(body).unwrap();
        assert_eq!(envelope.event_id.as_deref(), Some("second"));
        assert_eq!(envelope.msg.unwrap().tag, Some(Tag::Delivered));
    }
}
