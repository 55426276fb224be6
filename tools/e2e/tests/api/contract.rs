//! Every endpoint and every error case of the HTTP contract.

use crate::helpers::{error_message, must_trade};
use bazaar_e2e::{System, SystemOptions};
use serde_json::{json, Value};

#[tokio::test]
async fn every_endpoint_and_error_case_follows_the_contract() {
    let system = System::start(SystemOptions::default()).await;

    // GET /stocks/{name}
    let (status, body) = system.get("/stocks/GameStart").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"name": "GameStart", "price": 15.99, "quantity": 100}})
    );
    let (status, body) = system.get("/stocks/Atlantis").await;
    assert_eq!(status, 404);
    assert_eq!(error_message(404, &body), "stock not found");
    let (status, body) = system.get("/stocks/bad%20name").await;
    assert_eq!(status, 400);
    error_message(400, &body);

    // GET /stocks
    let (status, body) = system.get("/stocks").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    for wanted in ["GameStart", "FishCo", "BoarCo", "MenhirCo"] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }

    // The ETag carries the stock's version, which a trade moves forward.
    let etag = |system: &System| {
        let url = format!("{}/stocks/FishCo", system.url());
        let http = system.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let tag = response.headers()["etag"]
                .to_str()
                .unwrap()
                .trim_matches('"')
                .to_string();
            tag.parse::<u64>().expect("a numeric version")
        }
    };
    let version_before = etag(&system).await;

    // POST /orders: numbers from 0, one up per trade, quantities move.
    let first = must_trade(&system, "FishCo", 3, "buy").await;
    let second = must_trade(&system, "FishCo", 1, "sell").await;
    assert_eq!((first.number, second.number), (0, 1));
    let (_, body) = system.get("/stocks/FishCo").await;
    assert_eq!(body["data"]["quantity"], 98);
    assert_eq!(
        etag(&system).await,
        version_before + 2,
        "two trades, two versions"
    );

    // Content-Type is ignored, as with `curl -d`.
    let response = system
        .http
        .post(format!("{}/orders", system.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"name":"BoarCo","quantity":1,"type":"buy"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"data": {"transaction_number": 2}}));

    // GET /orders/{number}
    let (status, body) = system.get("/orders/0").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"number": 0, "name": "FishCo", "type": "buy", "quantity": 3}})
    );
    let (status, body) = system.get("/orders/1").await;
    assert_eq!((status, &body["data"]["type"]), (200, &json!("sell")));
    let (status, body) = system.get("/orders/999").await;
    assert_eq!(status, 404);
    error_message(404, &body);
    for bad in ["abc", "-1", "1.5", "99999999999999999999999"] {
        let (status, body) = system.get(&format!("/orders/{bad}")).await;
        assert_eq!(status, 400, "/orders/{bad}");
        error_message(400, &body);
    }

    // POST /orders errors.
    let cases: Vec<(&str, u16, &str)> = vec![
        ("{not json", 400, ""),
        ("", 400, ""),
        (r#"{"quantity":1,"type":"buy"}"#, 400, "name"),
        (r#"{"name":"FishCo","type":"buy"}"#, 400, "quantity"),
        (r#"{"name":"FishCo","quantity":1}"#, 400, "type"),
        (
            r#"{"name":"FishCo","quantity":"1","type":"buy"}"#,
            400,
            "quantity",
        ),
        (
            r#"{"name":"FishCo","quantity":0,"type":"buy"}"#,
            400,
            "quantity",
        ),
        (
            r#"{"name":"FishCo","quantity":-2,"type":"buy"}"#,
            400,
            "quantity",
        ),
        (
            r#"{"name":"FishCo","quantity":1.5,"type":"buy"}"#,
            400,
            "quantity",
        ),
        (
            r#"{"name":"FishCo","quantity":10000001,"type":"buy"}"#,
            400,
            "quantity",
        ),
        (
            r#"{"name":"FishCo","quantity":1,"type":"hold"}"#,
            400,
            "type",
        ),
        (r#"{"name":42,"quantity":1,"type":"buy"}"#, 400, "name"),
        (r#"[1,2]"#, 400, ""),
        (
            r#"{"name":"Atlantis","quantity":1,"type":"buy"}"#,
            404,
            "stock not found",
        ),
        (
            r#"{"name":"MenhirCo","quantity":101,"type":"buy"}"#,
            409,
            "100",
        ),
    ];
    for (body, want_status, mention) in cases {
        let (status, json, _) = system.post_raw(body.to_string()).await;
        assert_eq!(status, want_status, "POST {body} -> {json}");
        let message = error_message(status, &json);
        assert!(
            message.contains(mention),
            "POST {body}: message {message:?} should mention {mention:?}"
        );
    }
    let huge = format!(
        r#"{{"name":"FishCo","quantity":1,"type":"buy","pad":"{}"}}"#,
        "x".repeat(17 * 1024)
    );
    let (status, json, _) = system.post_raw(huge).await;
    assert_eq!(status, 413);
    error_message(413, &json);

    // None of the refused trades consumed a number or moved a quantity.
    let next = must_trade(&system, "MenhirCo", 100, "buy").await;
    assert_eq!(next.number, 3);
    let (_, body) = system.get("/stocks/MenhirCo").await;
    assert_eq!(body["data"]["quantity"], 0);

    // Health and unknown routes.
    let (status, body) = system.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = system.get("/nowhere").await;
    assert_eq!(status, 404);
    error_message(404, &body);
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_is_recorded_once() {
    let system = System::start(SystemOptions::default()).await;
    let send = || async {
        let response = system
            .http
            .post(format!("{}/orders", system.url()))
            .header("Idempotency-Key", "client-retry-1")
            .body(r#"{"name":"BoarCo","quantity":2,"type":"buy"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    };
    let first = send().await;
    let again = send().await;
    assert_eq!(first, again);
    let stock = system
        .catalog_stock("BoarCo")
        .await
        .expect("BoarCo is seeded");
    assert_eq!(stock.quantity, 98, "applied once");
    let (status, _) = system.get("/orders/1").await;
    assert_eq!(status, 404, "logged once");
}

#[tokio::test]
async fn without_order_replicas_trades_fail_fast_with_503_and_retry_after() {
    let system = System::start(SystemOptions {
        with_orders: false,
        retry_budget_ms: 1000,
        ..SystemOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    let (status, body, headers) = system
        .post_raw(r#"{"name":"FishCo","quantity":1,"type":"buy"}"#.to_string())
        .await;
    assert_eq!(status, 503, "{body}");
    error_message(503, &body);
    assert!(headers.contains_key("retry-after"));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "bounded by the retry budget"
    );
    let (status, _) = system.get("/orders/0").await;
    assert_eq!(status, 503);
    // Lookups do not need the order service.
    let (status, _) = system.get("/stocks/FishCo").await;
    assert_eq!(status, 200);
}
