//! The document as serde reads it. Every field may be absent, so that what is missing is
//! refused by the rules (`rules`, `products`) at the object that lacks it; a value of the wrong
//! type is refused here, as the value it is (`` `5` is not a string ``), and `parse` puts the
//! line and JSON path of the value in front.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use strum::VariantNames;

use super::purl::parse_purl;
use super::{Justification, Product, Status};
use crate::text::shown;

// The fields of each object, in the order the errors list them.

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawDocument {
    #[serde(rename = "@context")]
    pub context: Opt<Text>,
    #[serde(rename = "@id")]
    pub id: Opt<Text>,
    pub author: Opt<Text>,
    pub role: Opt<Text>,
    pub timestamp: Opt<Time>,
    pub last_updated: Opt<Time>,
    pub version: Opt<Version>,
    pub tooling: Opt<Text>,
    pub supplier: Opt<Text>,
    pub statements: Opt<List<Obj<RawStatement>>>,
}

/// `@id`, `version`, `last_updated` and `supplier` are not carried over, but still read: a
/// wrong value there is a mistake in the file.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawStatement {
    #[serde(rename = "@id")]
    pub id: Opt<Text>,
    pub version: Opt<Version>,
    pub vulnerability: Opt<Obj<RawVulnerability>>,
    pub timestamp: Opt<Time>,
    pub last_updated: Opt<Time>,
    pub products: Opt<List<Obj<RawProduct>>>,
    pub status: Opt<Status>,
    pub supplier: Opt<Text>,
    pub status_notes: Opt<Text>,
    pub justification: Opt<Justification>,
    pub impact_statement: Opt<Text>,
    pub action_statement: Opt<Text>,
    pub action_statement_timestamp: Opt<Time>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawVulnerability {
    #[serde(rename = "@id")]
    pub id: Opt<Text>,
    pub name: Opt<Text>,
    pub description: Opt<Text>,
    pub aliases: Opt<List<Alias>>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawProduct {
    #[serde(rename = "@id")]
    pub id: Opt<Purl>,
    pub identifiers: Opt<Obj<RawIdentifiers>>,
    pub subcomponents: Opt<List<Obj<RawSubcomponent>>>,
}

/// Subcomponents do not nest.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSubcomponent {
    #[serde(rename = "@id")]
    pub id: Opt<Purl>,
    pub identifiers: Opt<Obj<RawIdentifiers>>,
}

/// The project names products by purl only.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct RawIdentifiers {
    pub purl: Opt<Purl>,
}

/// A field that may be absent. Unlike `Option`'s, a `null` is a value, which `T` refuses:
/// OpenVEX has no null fields.
pub(super) struct Opt<T>(pub Option<T>);

impl<T> Default for Opt<T> {
    fn default() -> Self {
        Opt(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Opt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|v| Opt(Some(v)))
    }
}

impl<T> Opt<T> {
    /// The value given, converted (a `Text` into its `String`).
    pub fn value<U: From<T>>(self) -> Option<U> {
        self.0.map(U::from)
    }
}

/// A string that is not empty.
pub(super) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s.trim().is_empty() => {
                Err(de::Error::custom("is empty: write it, or remove the field"))
            }
            Value::String(s) => Ok(Text(s)),
            other => Err(not_a(&other, "a string")),
        }
    }
}

impl From<Text> for String {
    fn from(text: Text) -> String {
        text.0
    }
}

/// An RFC 3339 time, kept as written so that the documents written from it say the same.
pub(super) struct Time(pub String);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(time) = Text::deserialize(d)?;
        match time.parse::<jiff::Timestamp>() {
            Ok(_) => Ok(Time(time)),
            Err(e) => Err(de::Error::custom(format!(
                "`{}` is not an RFC 3339 time ({e}): write it like 2026-01-01T00:00:00Z",
                shown(&time)
            ))),
        }
    }
}

impl From<Time> for String {
    fn from(time: Time) -> String {
        time.0
    }
}

/// A document or statement version: OpenVEX counts them from 1.
pub(super) struct Version(pub u64);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match value.as_u64() {
            Some(v) if v >= 1 => Ok(Version(v)),
            _ => Err(de::Error::custom(format!(
                "{} is not a version: a whole number from 1 up, raised on every change",
                described(&value)
            ))),
        }
    }
}

impl From<Version> for u64 {
    fn from(version: Version) -> u64 {
        version.0
    }
}

/// One of the other IDs of a vulnerability: Trivy matches a finding by any of them, so each
/// must be a non-empty string.
pub(super) struct Alias(pub String);

impl<'de> Deserialize<'de> for Alias {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if !s.trim().is_empty() => Ok(Alias(s)),
            other => Err(not_a(&other, "a vulnerability ID")),
        }
    }
}

/// One of the two purls the project accepts (`purl`).
pub(super) struct Purl(pub Product);

impl<'de> Deserialize<'de> for Purl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Text(purl) = Text::deserialize(d)?;
        parse_purl(&purl).map(Purl).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        label(d, "a status")
    }
}

impl<'de> Deserialize<'de> for Justification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        label(d, "a justification")
    }
}

/// One of the labels OpenVEX defines for `T` (`what` names it): Trivy shows any other as
/// given, without a word.
fn label<'de, D, T>(d: D, what: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + VariantNames,
{
    let Text(label) = Text::deserialize(d)?;
    label.parse().map_err(|_| {
        de::Error::custom(format!(
            "`{}` is not {what} OpenVEX knows ({})",
            shown(&label),
            T::VARIANTS.join(", ")
        ))
    })
}

/// How a value that has the wrong type is shown.
pub(super) fn described(value: &Value) -> String {
    match value {
        Value::Object(_) => "an object".to_string(),
        Value::Array(_) => "an array".to_string(),
        other => format!("`{}`", shown(&other.to_string())),
    }
}

/// `` `5` is not a string ``.
fn not_a<E: de::Error>(value: &Value, expected: &str) -> E {
    E::custom(format!("{} is not {expected}", described(value)))
}

/// A JSON object read as `T`.
pub(super) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shaped(OBJECT, PhantomData)).map(Obj)
    }
}

/// A JSON array of `T`.
pub(super) struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Shaped(ARRAY, PhantomData)).map(List)
    }
}

const OBJECT: &str = "an object";
const ARRAY: &str = "an array";

/// Reads `T` from a JSON object or array (the one named), and refuses any other value as the
/// value it is: serde's own message would name the Rust type instead.
struct Shaped<T>(&'static str, PhantomData<T>);

impl<T> Shaped<T> {
    fn refuse<E: de::Error>(&self, value: Value) -> Result<T, E> {
        Err(not_a(&value, self.0))
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Shaped<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        match self.0 {
            OBJECT => T::deserialize(MapAccessDeserializer::new(map)),
            _ => self.refuse(Value::Object(Default::default())),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        match self.0 {
            ARRAY => T::deserialize(SeqAccessDeserializer::new(seq)),
            _ => self.refuse(Value::Array(Vec::new())),
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.refuse(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.refuse(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.refuse(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.refuse(v.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.refuse(v.into())
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        self.refuse(Value::Null)
    }
}

/// The fields serde reads into the struct `T`, as the document spells them: all that an object
/// of its kind may hold. Asked of serde, so that the list is the struct's.
pub(super) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = Fields(&[]);
    let _ = T::deserialize(&mut fields);
    fields.0
}

/// A deserializer that only notes the fields of the struct asked of it.
struct Fields(&'static [&'static str]);

impl<'de> Deserializer<'de> for &mut Fields {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("only the fields were asked"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
