//! Each order field deserialised straight into its domain type through that type's `parse`,
//! with the message a client sees when the value is of the wrong JSON type or breaks the rule.

use super::body::{skip_map, skip_seq};
use bazaar_nats::domain::MAX_ORDER_QUANTITY;
use bazaar_nats::{Quantity, Side, StockName};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Number;
use std::fmt;
use std::marker::PhantomData;

/// One field's value deserialised into its domain type, or the message saying why it is not
/// one; a wrong value is kept as a message so the rest of the body is still read.
pub(super) struct Checked<T>(pub(super) Result<T, String>);

/// How one order field is made from the JSON value it holds.
trait OrderField: Sized {
    /// The message for a value of the wrong JSON type (`kind` as in "a boolean").
    fn wrong_kind(kind: &str) -> String;

    /// The field from a JSON string.
    fn from_text(_text: &str) -> Result<Self, String> {
        Err(Self::wrong_kind("a string"))
    }

    /// The field from a JSON number.
    fn from_number(_number: &Number) -> Result<Self, String> {
        Err(Self::wrong_kind("a number"))
    }
}

impl OrderField for StockName {
    fn wrong_kind(kind: &str) -> String {
        format!("field `name` must be a string, not {kind}")
    }

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| e.0)
    }
}

/// What a valid quantity is, as messages say it.
fn quantity_rule() -> String {
    format!("a whole number from 1 to {MAX_ORDER_QUANTITY}")
}

impl OrderField for Quantity {
    fn wrong_kind(kind: &str) -> String {
        format!("field `quantity` must be {}, not {kind}", quantity_rule())
    }

    fn from_number(number: &Number) -> Result<Self, String> {
        let whole = whole_number(number).ok_or_else(|| Self::wrong_kind(&number.to_string()))?;
        Self::parse(whole).map_err(|_| Self::wrong_kind(&whole.to_string()))
    }
}

impl OrderField for Side {
    fn wrong_kind(kind: &str) -> String {
        format!("field `type` must be the string \"buy\" or \"sell\", not {kind}")
    }

    fn from_text(text: &str) -> Result<Self, String> {
        Self::parse(text)
            .map_err(|_| format!("field `type` must be \"buy\" or \"sell\", not {text:?}"))
    }
}

/// A JSON number's value when it is a whole number that fits a `u64`, however it is written:
/// JSON (and the OpenAPI document's `integer`) make `3`, `3.0` and `3e0` the same value.
fn whole_number(n: &Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        let value = n.as_f64()?;
        // Above 2^53 a float is not exact; every valid quantity is far below.
        let exact = value.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&value);
        exact.then_some(value as u64)
    })
}

impl<'de, T: OrderField> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

/// Reads any JSON value and turns it into a [`Checked`] field.
struct FieldVisitor<T>(PhantomData<T>);

impl<'de, T: OrderField> Visitor<'de> for FieldVisitor<T> {
    type Value = Checked<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Checked(T::from_text(text)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Checked(T::from_number(&Number::from(n))))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Checked(T::from_number(&Number::from(n))))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        // Only a non-finite float has no JSON number, and JSON text cannot spell one.
        Ok(Checked(match Number::from_f64(n) {
            Some(number) => T::from_number(&number),
            None => Err(T::wrong_kind("null")),
        }))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Checked(Err(T::wrong_kind("a boolean"))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Checked(Err(T::wrong_kind("null"))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(Checked(Err(T::wrong_kind("an array"))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map)?;
        Ok(Checked(Err(T::wrong_kind("an object"))))
    }
}
