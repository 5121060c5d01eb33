//! The ways a proxy or framework commonly re-serialises a JSON body (compact or pretty-printed, keys in
//! their original order or sorted), used to recognise a body that was rewritten on its way to us.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::ser::PrettyFormatter;

/// A JSON value that keeps the order of object keys (the workspace's `serde_json` sorts them).
enum OrderedJson {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OrderedJson>),
    Object(Vec<(String, OrderedJson)>),
}

impl<'de> Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedJsonVisitor)
    }
}

struct OrderedJsonVisitor;

impl<'de> Visitor<'de> for OrderedJsonVisitor {
    type Value = OrderedJson;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<OrderedJson, E> {
        Ok(serde_json::Number::from_f64(v).map_or(OrderedJson::Null, OrderedJson::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v))
    }
    fn visit_unit<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }
    fn visit_none<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OrderedJson, D::Error> {
        OrderedJson::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedJson, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OrderedJson::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedJson, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, OrderedJson>()? {
            entries.push(entry);
        }
        Ok(OrderedJson::Object(entries))
    }
}

impl Serialize for OrderedJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OrderedJson::Null => serializer.serialize_unit(),
            OrderedJson::Bool(b) => serializer.serialize_bool(*b),
            OrderedJson::Number(n) => n.serialize(serializer),
            OrderedJson::String(s) => serializer.serialize_str(s),
            OrderedJson::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            OrderedJson::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

/// How a re-serialisation laid the JSON out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Compact,
    PrettyTwoSpaces,
    PrettyFourSpaces,
}

impl Layout {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Layout::Compact => "compact JSON",
            Layout::PrettyTwoSpaces => "JSON pretty-printed with 2-space indents",
            Layout::PrettyFourSpaces => "JSON pretty-printed with 4-space indents",
        }
    }
}

/// One re-serialisation of a body.
pub(crate) struct Reserialised {
    pub(crate) layout: Layout,
    /// Keys sorted alphabetically (as `serde_json::Value` does) rather than kept in their order.
    pub(crate) sorted_keys: bool,
    pub(crate) bytes: Vec<u8>,
}

/// The body re-serialised in each common layout, keys in order and sorted, without duplicates and
/// without the body itself. Empty when the body is not JSON.
pub(crate) fn reserialisations(body: &[u8]) -> Vec<Reserialised> {
    let Ok(ordered) = serde_json::from_slice::<OrderedJson>(body) else {
        return Vec::new();
    };
    let Ok(sorted) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut out: Vec<Reserialised> = Vec::new();
    for (sorted_keys, layout) in [
        (false, Layout::Compact),
        (false, Layout::PrettyTwoSpaces),
        (false, Layout::PrettyFourSpaces),
        (true, Layout::Compact),
        (true, Layout::PrettyTwoSpaces),
        (true, Layout::PrettyFourSpaces),
    ] {
        let bytes = if sorted_keys { write(&sorted, layout) } else { write(&ordered, layout) };
        if bytes.as_slice() != body && !out.iter().any(|r| r.bytes == bytes) {
            out.push(Reserialised { layout, sorted_keys, bytes });
        }
    }
    out
}

fn write<T: Serialize>(value: &T, layout: Layout) -> Vec<u8> {
    let mut bytes = Vec::new();
    let written = match layout {
        Layout::Compact => value.serialize(&mut serde_json::Serializer::new(&mut bytes)),
        Layout::PrettyTwoSpaces => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut bytes,
            PrettyFormatter::with_indent(b"  "),
        )),
        Layout::PrettyFourSpaces => value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut bytes,
            PrettyFormatter::with_indent(b"    "),
        )),
    };
    // Writing into a Vec cannot fail, and every value here came from valid JSON.
    debug_assert!(written.is_ok());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_sorts_when_asked() {
        let body = br#"{ "b": 1, "a": [true, null, "x\u00e9"], "c": {"z": 1.5, "y": -2} }"#;
        let variants = reserialisations(body);
        let compact_in_order =
            variants.iter().find(|r| r.layout == Layout::Compact && !r.sorted_keys).unwrap();
        assert_eq!(
            String::from_utf8(compact_in_order.bytes.clone()).unwrap(),
            r#"{"b":1,"a":[true,null,"xé"],"c":{"z":1.5,"y":-2}}"#
        );
        let compact_sorted = variants.iter().find(|r| r.layout == Layout::Compact && r.sorted_keys).unwrap();
        assert_eq!(
            String::from_utf8(compact_sorted.bytes.clone()).unwrap(),
            r#"{"a":[true,null,"xé"],"b":1,"c":{"y":-2,"z":1.5}}"#
        );
        let four = variants.iter().find(|r| r.layout == Layout::PrettyFourSpaces && !r.sorted_keys).unwrap();
        assert!(String::from_utf8(four.bytes.clone())
            .unwrap()
            .starts_with("{\n    \"b\": 1,\n    \"a\": [\n        true,"));
    }

    #[test]
    fn leaves_out_the_body_itself_and_duplicates() {
        // Already compact with sorted keys: the compact variants equal the body.
        let variants = reserialisations(br#"{"a":1}"#);
        assert!(variants.iter().all(|r| r.layout != Layout::Compact));
        assert_eq!(variants.len(), 2);
    }

    #[test]
    fn not_json_gives_nothing() {
        assert!(reserialisations(b"{not json").is_empty());
        assert!(reserialisations(b"").is_empty());
    }
}
