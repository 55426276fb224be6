//! Validated values that travel on the bus.
//!
//! Parsing happens once, at the edge (HTTP or a NATS handler); past that a `StockName` or a
//! `Quantity` is known to be good. Serde goes through the same `parse`, so a bad payload on NATS
//! is rejected by deserialisation with the same message a bad HTTP body gets.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value was refused; the text is meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

/// Largest quantity a single order may carry. Far beyond any village trade, far below any
/// arithmetic overflow.
pub const MAX_ORDER_QUANTITY: u64 = 1_000_000;
/// Longest accepted stock name, in bytes.
pub const MAX_STOCK_NAME_LEN: usize = 64;
/// Longest accepted idempotency key, in bytes.
pub const MAX_KEY_LEN: usize = 128;

/// A stock's name: 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StockName(String);

impl StockName {
    /// Accepts a name made only of ASCII letters, digits, `-`, `_` and `.`, 1 to 64 long.
    ///
    /// # Errors
    /// A [`ValidationError`] that says which rule the name broke.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > MAX_STOCK_NAME_LEN {
            return Err(ValidationError(format!(
                "stock name must be 1 to {MAX_STOCK_NAME_LEN} characters long"
            )));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(ValidationError(
                "stock name may hold only letters, digits, '-', '_' and '.'".into(),
            ));
        }
        Ok(Self(raw))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StockName {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<StockName> for String {
    fn from(name: StockName) -> Self {
        name.0
    }
}

impl fmt::Display for StockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number of shares in one order: a whole number from 1 to [`MAX_ORDER_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Quantity(u64);

impl Quantity {
    /// Accepts 1 ..= [`MAX_ORDER_QUANTITY`].
    ///
    /// # Errors
    /// A [`ValidationError`] for zero or anything above the bound.
    pub fn parse(raw: u64) -> Result<Self, ValidationError> {
        if raw == 0 || raw > MAX_ORDER_QUANTITY {
            return Err(ValidationError(format!(
                "quantity must be a whole number from 1 to {MAX_ORDER_QUANTITY}"
            )));
        }
        Ok(Self(raw))
    }

    /// The number of shares.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for Quantity {
    type Error = ValidationError;
    fn try_from(raw: u64) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<Quantity> for u64 {
    fn from(q: Quantity) -> Self {
        q.0
    }
}

/// Whether an order takes shares from the market (`buy`) or gives them back (`sell`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Lowers the available quantity; refused when too few shares are left.
    Buy,
    /// Raises the available quantity.
    Sell,
}

impl Side {
    /// Accepts exactly `buy` or `sell`.
    ///
    /// # Errors
    /// A [`ValidationError`] naming the two accepted values.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "buy" => Ok(Self::Buy),
            "sell" => Ok(Self::Sell),
            _ => Err(ValidationError("type must be \"buy\" or \"sell\"".into())),
        }
    }

    /// `buy` or `sell`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// The key that makes a trade happen at most once however often it is retried: the frontend
/// mints one per `POST /orders` (or takes the client's `Idempotency-Key` header) and every retry,
/// to any leader, carries it. 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 128 visible ASCII characters (no spaces or control characters).
    ///
    /// # Errors
    /// A [`ValidationError`] when the key is empty, too long or not visible ASCII.
    pub fn parse(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > MAX_KEY_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError(format!(
                "idempotency key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(raw))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> Self {
        key.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_name_accepts_plain_names_and_refuses_the_rest() {
        assert_eq!(StockName::parse("GameStart").unwrap().as_str(), "GameStart");
        assert!(StockName::parse("").is_err());
        assert!(StockName::parse("a b").is_err());
        assert!(StockName::parse("x".repeat(65)).is_err());
        assert!(StockName::parse("orders.>").is_err());
    }

    #[test]
    fn quantity_is_bounded_on_both_sides() {
        assert!(Quantity::parse(0).is_err());
        assert_eq!(Quantity::parse(1).unwrap().get(), 1);
        assert!(Quantity::parse(MAX_ORDER_QUANTITY).is_ok());
        assert!(Quantity::parse(MAX_ORDER_QUANTITY + 1).is_err());
    }

    #[test]
    fn quantity_refuses_zero_when_deserialised() {
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert!(serde_json::from_str::<Quantity>("1.5").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("7").unwrap().get(), 7);
    }

    #[test]
    fn side_parses_only_buy_and_sell() {
        assert_eq!(Side::parse("buy").unwrap(), Side::Buy);
        assert_eq!(Side::parse("sell").unwrap(), Side::Sell);
        assert!(Side::parse("BUY").is_err());
        assert_eq!(serde_json::to_string(&Side::Sell).unwrap(), "\"sell\"");
    }

    #[test]
    fn idempotency_key_refuses_blank_and_oversized_keys() {
        assert!(IdempotencyKey::parse("k-1").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse("k".repeat(129)).is_err());
    }
}
