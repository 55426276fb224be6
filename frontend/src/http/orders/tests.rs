//! The order body's parsing rules and the idempotency key, without a server.

use super::body::parse_order;
use super::*;
use axum::http::HeaderValue;

fn message(body: &str) -> String {
    match parse_order(body.as_bytes()).map_err(AppError::from) {
        Err(AppError::BadRequest(m)) => m,
        other => panic!("expected a 400 for {body}, got {other:?}"),
    }
}

#[test]
fn a_well_formed_order_is_accepted() {
    let order =
        parse_order(br#"{"name": "GameStart", "quantity": 1, "type": "buy", "x": 0}"#).unwrap();
    assert_eq!(order.name.as_str(), "GameStart");
    assert_eq!(order.quantity.get(), 1);
    assert_eq!(order.side, Side::Buy);
    let sell = parse_order(br#"{"name":"FishCo","quantity":1000000,"type":"sell"}"#).unwrap();
    assert_eq!(sell.side, Side::Sell);
}

#[test]
fn malformed_json_is_refused() {
    assert!(message(r#"{"name": "GameStart", "#).contains("not valid JSON"));
    assert!(message("").contains("not valid JSON"));
    assert!(message("[1, 2]").contains("JSON object"));
}

#[test]
fn each_missing_field_is_named() {
    assert_eq!(
        message(r#"{"quantity": 1, "type": "buy"}"#),
        "missing field `name`"
    );
    assert_eq!(
        message(r#"{"name": "A", "type": "buy"}"#),
        "missing field `quantity`"
    );
    assert_eq!(
        message(r#"{"name": "A", "quantity": 1}"#),
        "missing field `type`"
    );
}

#[test]
fn each_mistyped_field_is_named() {
    assert!(message(r#"{"name": 5, "quantity": 1, "type": "buy"}"#).contains("`name`"));
    assert!(message(r#"{"name": "A", "quantity": "1", "type": "buy"}"#).contains("`quantity`"));
    assert!(message(r#"{"name": "A", "quantity": 1, "type": true}"#).contains("`type`"));
    assert!(message(r#"{"name": null, "quantity": 1, "type": "buy"}"#).contains("null"));
}

#[test]
fn quantity_must_be_a_positive_whole_number_within_the_bound() {
    for q in [
        "0",
        "-1",
        "1.5",
        "1000001",
        "1e7",
        "-0.0",
        "18446744073709551616",
    ] {
        let m = message(&format!(
            r#"{{"name": "A", "quantity": {q}, "type": "buy"}}"#
        ));
        assert!(
            m.contains("`quantity`") && m.contains("1000000"),
            "{q}: {m}"
        );
    }
}

#[test]
fn a_whole_quantity_written_as_a_decimal_or_exponent_is_that_number() {
    // Schema-valid to any JSON Schema validator: `integer` includes 262144.0.
    for (written, value) in [("262144.0", 262_144), ("1e3", 1_000), ("1.0e6", 1_000_000)] {
        let body = format!(r#"{{"name": "A", "quantity": {written}, "type": "buy"}}"#);
        let order = parse_order(body.as_bytes()).unwrap();
        assert_eq!(order.quantity.get(), value, "{written}");
    }
}

#[test]
fn unknown_type_says_buy_or_sell() {
    let m = message(r#"{"name": "A", "quantity": 1, "type": "hold"}"#);
    assert!(m.contains("\"buy\" or \"sell\""), "{m}");
}

#[test]
fn an_invalid_stock_name_is_refused() {
    let m = message(r#"{"name": "no spaces", "quantity": 1, "type": "buy"}"#);
    assert!(m.contains("stock name"), "{m}");
}

#[test]
fn idempotency_key_comes_from_the_header_or_is_minted() {
    let mut headers = HeaderMap::new();
    let (minted, was_minted) = idempotency_key(&headers).unwrap();
    assert!(was_minted);
    assert_eq!(minted.as_str().len(), 36);
    assert_ne!(minted, idempotency_key(&headers).unwrap().0);
    headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("client-key-1"));
    let (given, was_minted) = idempotency_key(&headers).unwrap();
    assert_eq!(given.as_str(), "client-key-1");
    assert!(!was_minted);
    headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("has space"));
    assert!(matches!(
        idempotency_key(&headers),
        Err(AppError::BadRequest(_))
    ));
}
