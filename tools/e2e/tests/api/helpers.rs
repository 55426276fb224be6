//! Shared helpers for the end-to-end tests.

use bazaar_e2e::System;
use serde_json::Value;
use std::collections::BTreeMap;

/// One acknowledged trade as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acked {
    pub(crate) number: u64,
    pub(crate) name: String,
    pub(crate) side: String,
    pub(crate) quantity: u64,
}

/// Asserts the body is our error shape with this code, and returns its message.
pub(crate) fn error_message(status: u16, body: &Value) -> String {
    assert_eq!(
        body["error"]["code"],
        Value::from(status),
        "error body {body}"
    );
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error without message: {body}"))
        .to_string()
}

/// Checks the catalog against the trades: for every stock, quantity = initial - buys + sells.
pub(crate) async fn assert_conservation(
    system: &System,
    initial: &BTreeMap<String, u64>,
    trades: &[Acked],
) {
    let mut expected = initial.clone();
    for t in trades {
        let q = expected.get_mut(&t.name).expect("traded stock exists");
        match t.side.as_str() {
            "buy" => *q -= t.quantity,
            "sell" => *q += t.quantity,
            other => panic!("unknown side {other}"),
        }
    }
    let actual = system.catalog_quantities().await;
    assert_eq!(
        actual, expected,
        "catalog quantities disagree with the acknowledged trades"
    );
}

/// Asserts the numbers are exactly 0..n and every order reads back as acknowledged.
pub(crate) async fn assert_orders_match(system: &System, trades: &[Acked]) {
    let mut numbers: Vec<u64> = trades.iter().map(|t| t.number).collect();
    numbers.sort_unstable();
    let expected: Vec<u64> = (0..trades.len() as u64).collect();
    assert_eq!(
        numbers, expected,
        "transaction numbers must be 0..n, no gaps, no repeats"
    );
    for t in trades {
        let (status, body) = system.get(&format!("/orders/{}", t.number)).await;
        assert_eq!(status, 200, "order {} reads back: {body}", t.number);
        assert_eq!(body["data"]["number"], t.number);
        assert_eq!(body["data"]["name"], t.name.as_str());
        assert_eq!(body["data"]["type"], t.side.as_str());
        assert_eq!(body["data"]["quantity"], t.quantity);
    }
}

/// Sends a trade and returns it as acknowledged.
///
/// # Panics
/// When the frontend does not answer 200.
pub(crate) async fn must_trade(system: &System, name: &str, quantity: u64, side: &str) -> Acked {
    let (status, body) = system.trade(name, quantity, side).await;
    assert_eq!(status, 200, "trade {side} {quantity} {name}: {body}");
    Acked {
        number: body["data"]["transaction_number"]
            .as_u64()
            .expect("a transaction number"),
        name: name.into(),
        side: side.into(),
        quantity,
    }
}
