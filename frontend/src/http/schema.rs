//! The OpenAPI schemas of the bus's validated values, for the types of the HTTP layer that hold
//! them. Each states the rule its `parse` enforces, so that a client generated from the
//! document refuses what the frontend would refuse.

use bazaar_nats::domain::{MAX_ORDER_QUANTITY, MAX_STOCK_NAME_LEN};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// A stock name: what `StockName::parse` accepts.
pub(crate) fn stock_name() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_STOCK_NAME_LEN))
        .pattern(Some(STOCK_NAME_PATTERN))
        .description(Some("1 to 64 ASCII letters, digits, '-', '_' or '.'"))
        .examples(["GameStart"])
        .into()
}

/// The pattern of a stock name.
pub(crate) const STOCK_NAME_PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";

/// The number of shares in one order: what `Quantity::parse` accepts.
pub(crate) fn order_quantity() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(MAX_ORDER_QUANTITY))
        .examples([1])
        .into()
}

/// `buy` or `sell`: what `Side::parse` accepts.
pub(crate) fn order_type() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["buy", "sell"]))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_nats::StockName;

    #[test]
    fn the_documented_name_length_is_the_parsed_one() {
        assert!(STOCK_NAME_PATTERN.contains(&format!("{{1,{MAX_STOCK_NAME_LEN}}}")));
        assert!(StockName::parse("a".repeat(MAX_STOCK_NAME_LEN)).is_ok());
        assert!(StockName::parse("a".repeat(MAX_STOCK_NAME_LEN + 1)).is_err());
        for allowed in ["A-b_c.9", "Z"] {
            assert!(StockName::parse(allowed).is_ok(), "{allowed}");
        }
    }
}
