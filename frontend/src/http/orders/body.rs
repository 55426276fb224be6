//! The `POST /orders` body: deserialised by serde straight into the domain types, with a 400
//! that names the field and the rule it broke.
//!
//! The body is read as JSON whatever the Content-Type, so `curl -d` works. A field's value is
//! never a reason to stop reading: the whole body must be valid JSON before any field is judged,
//! and the fields are judged in one fixed order (name, quantity, type) however the client
//! ordered them, so the same body always earns the same message. Other fields are ignored, and
//! when a field is repeated the last one counts, as in any JSON object.

use super::fields::Checked;
use super::NewOrder;
use crate::error::AppError;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bazaar_nats::{Quantity, Side, StockName};
use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A validated order, extracted from the request body.
#[derive(Debug)]
pub(in crate::http) struct OrderJson(pub(in crate::http) NewOrder);

impl<S: Send + Sync> FromRequest<S> for OrderJson {
    type Rejection = OrderRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(request, state).await?;
        parse_order(&body).map(Self)
    }
}

/// Why `POST /orders` refused its body before any trade was tried.
#[derive(Debug, thiserror::Error)]
pub(in crate::http) enum OrderRejection {
    /// The body could not be read: too large, or the connection failed.
    #[error("cannot read the order body")]
    Unreadable(#[from] BytesRejection),
    /// The body was read but is not a valid order; the message names the field and the rule.
    #[error("{0}")]
    Invalid(String),
}

impl From<OrderRejection> for AppError {
    fn from(rejection: OrderRejection) -> Self {
        match rejection {
            OrderRejection::Unreadable(unreadable) => unreadable.into(),
            OrderRejection::Invalid(message) => Self::BadRequest(message),
        }
    }
}

impl IntoResponse for OrderRejection {
    fn into_response(self) -> Response {
        AppError::from(self).into_response()
    }
}

/// Parses and validates `{"name": "...", "quantity": N, "type": "buy"|"sell"}`.
///
/// # Errors
/// [`OrderRejection::Invalid`] with a message that names the field and the rule it broke.
pub(in crate::http) fn parse_order(body: &[u8]) -> Result<NewOrder, OrderRejection> {
    let invalid = OrderRejection::Invalid;
    match serde_json::from_slice::<OrderBody>(body) {
        Err(e) => Err(invalid(format!("request body is not valid JSON: {e}"))),
        Ok(OrderBody::NotAnObject(kind)) => Err(invalid(format!(
            "request body must be a JSON object with name, quantity and type, not {kind}"
        ))),
        Ok(OrderBody::Object(fields)) => fields.validate().map_err(invalid),
    }
}

/// The body as read, before the fields are judged.
enum OrderBody {
    /// A JSON object, with each order field it held.
    Object(OrderFields),
    /// Any other JSON value, named as in messages.
    NotAnObject(&'static str),
}

/// The order fields of a JSON object; `None` when the field is absent.
#[derive(Default)]
struct OrderFields {
    name: Option<Checked<StockName>>,
    quantity: Option<Checked<Quantity>>,
    side: Option<Checked<Side>>,
}

impl OrderFields {
    /// The order, or the message for the first field (in a fixed order) that is wrong.
    fn validate(self) -> Result<NewOrder, String> {
        Ok(NewOrder {
            name: required("name", self.name)?,
            quantity: required("quantity", self.quantity)?,
            side: required("type", self.side)?,
        })
    }
}

/// A required field's value, or why it is missing or wrong.
fn required<T>(field: &str, value: Option<Checked<T>>) -> Result<T, String> {
    value
        .ok_or_else(|| format!("missing field `{field}`"))
        .and_then(|checked| checked.0)
}

impl<'de> Deserialize<'de> for OrderBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BodyVisitor)
    }
}

/// Reads the whole body: the order fields of an object, or the kind of anything else.
struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = OrderBody;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with name, quantity and type")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = OrderFields::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "name" => fields.name = Some(map.next_value()?),
                "quantity" => fields.quantity = Some(map.next_value()?),
                "type" => fields.side = Some(map.next_value()?),
                _ => {
                    map.next_value::<Skipped>()?;
                }
            }
        }
        Ok(OrderBody::Object(fields))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(OrderBody::NotAnObject("a string"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(OrderBody::NotAnObject("a number"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(OrderBody::NotAnObject("a number"))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        let kind = if n.is_finite() { "a number" } else { "null" };
        Ok(OrderBody::NotAnObject(kind))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(OrderBody::NotAnObject("a boolean"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(OrderBody::NotAnObject("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(OrderBody::NotAnObject("an array"))
    }
}

/// Reads the rest of an array, so a syntax error further on is still reported as one.
pub(super) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skipped>()?.is_some() {}
    Ok(())
}

/// Reads the rest of an object, so a syntax error further on is still reported as one.
pub(super) fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skipped, Skipped>()?.is_some() {}
    Ok(())
}

/// A JSON value read in full and dropped. It is read as any other value is (not with serde's
/// `IgnoredAny`, which serde_json skips without its nesting limit), so an ignored field is held
/// to the same rules as the order fields.
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// Accepts any JSON value for [`Skipped`].
struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skipped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Skipped)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq).map(|()| Skipped)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map).map(|()| Skipped)
    }
}
