//! `POST /orders` and `GET /orders/{number}`: validation, status mapping, retries and the
//! idempotency key, with scripted order replicas on the real bus.

use crate::helpers::{
    spawn_app, spawn_app_with, wait_until, CatalogRelay, FakeReplica, LeaseHolder, Options,
    TestApp, SETTLE,
};
use bazaar_nats::subjects::{order_get, order_trade};
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// POSTs `body` and returns status and JSON body.
async fn post(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app.post_order(body.to_string()).await;
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn assert_400_mentioning(status: u16, body: &Value, words: &[&str]) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 400);
    let message = body["error"]["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "{message:?} lacks {word:?}");
    }
}

#[tokio::test]
async fn an_order_with_malformed_json_is_a_400() {
    let app = spawn_app().await;
    let (status, body) = post(&app, r#"{"name": "GameStart", "quantity": 1,"#).await;
    assert_400_mentioning(status, &body, &["JSON"]);
    let (status, body) = post(&app, "").await;
    assert_400_mentioning(status, &body, &["JSON"]);
}

#[tokio::test]
async fn an_order_missing_a_field_is_a_400_naming_it() {
    let app = spawn_app().await;
    let cases = [
        (r#"{"quantity": 1, "type": "buy"}"#, "name"),
        (r#"{"name": "GameStart", "type": "buy"}"#, "quantity"),
        (r#"{"name": "GameStart", "quantity": 1}"#, "type"),
    ];
    for (body, field) in cases {
        let (status, answer) = post(&app, body).await;
        assert_400_mentioning(status, &answer, &["missing", field]);
    }
}

#[tokio::test]
async fn an_order_with_a_mistyped_field_is_a_400_naming_it() {
    let app = spawn_app().await;
    let cases = [
        (r#"{"name": 7, "quantity": 1, "type": "buy"}"#, "name"),
        (
            r#"{"name": "GameStart", "quantity": "1", "type": "buy"}"#,
            "quantity",
        ),
        (r#"{"name": "GameStart", "quantity": 1, "type": 1}"#, "type"),
    ];
    for (body, field) in cases {
        let (status, answer) = post(&app, body).await;
        assert_400_mentioning(status, &answer, &[field]);
    }
}

#[tokio::test]
async fn an_order_quantity_outside_one_to_the_maximum_is_a_400_stating_the_bound() {
    let app = spawn_app().await;
    for quantity in ["0", "-3", "2.5", "1000001"] {
        let body = format!(r#"{{"name": "GameStart", "quantity": {quantity}, "type": "buy"}}"#);
        let (status, answer) = post(&app, &body).await;
        assert_400_mentioning(status, &answer, &["quantity", "1000000"]);
    }
}

#[tokio::test]
async fn an_order_of_unknown_type_is_a_400_saying_buy_or_sell() {
    let app = spawn_app().await;
    let (status, body) = post(
        &app,
        r#"{"name": "GameStart", "quantity": 1, "type": "steal"}"#,
    )
    .await;
    assert_400_mentioning(status, &body, &["buy", "sell"]);
}

#[tokio::test]
async fn an_order_with_an_invalid_idempotency_key_is_a_400() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/orders"))
        .header("Idempotency-Key", "x".repeat(129))
        .body(r#"{"name": "GameStart", "quantity": 1, "type": "buy"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("idempotency key"));
}

#[tokio::test]
async fn an_order_body_over_16_kib_is_a_json_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(17 * 1024);
    let body =
        format!(r#"{{"name": "GameStart", "quantity": 1, "type": "buy", "pad": "{padding}"}}"#);
    let (status, answer) = post(&app, &body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], 413);
    assert!(answer["error"]["message"].is_string());
}

#[tokio::test]
async fn an_order_with_no_order_replica_running_is_a_503_with_retry_after_within_the_budget() {
    let app = spawn_app_with(Options {
        retry_budget_ms: 1500,
        attempt_timeout_ms: 300,
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let response = app
        .post_order(r#"{"name": "GameStart", "quantity": 1, "type": "buy"}"#)
        .await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(
        elapsed >= Duration::from_millis(900),
        "gave up too early: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_millis(3000), "took {elapsed:?}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 503);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("leader"));

    let response = app.http.get(app.url("/orders/0")).send().await.unwrap();
    assert_eq!(response.status(), 503);
}

#[tokio::test]
async fn an_order_follows_not_leader_hints_and_keeps_one_idempotency_key_across_retries() {
    let app = spawn_app().await;
    let follower = FakeReplica::start(
        &app.nats,
        order_trade(1),
        vec![json!({"status": "not_leader", "leader": 2})],
    )
    .await;
    let leader = FakeReplica::start(
        &app.nats,
        order_trade(2),
        vec![
            json!({"status": "unavailable", "message": "stepping up"}),
            json!({"status": "ok", "data": {"transaction_number": 7}}),
        ],
    )
    .await;
    let _lease = LeaseHolder::start(&app.nats, 1).await;
    wait_until(SETTLE, "the frontend sees leader 1", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 1
    })
    .await;

    let response = app
        .http
        .post(app.url("/orders"))
        .header("Idempotency-Key", "client-key-42")
        .body(r#"{"name": "GameStart", "quantity": 3, "type": "sell"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"data": {"transaction_number": 7}}));

    let mut seen = follower.received();
    seen.extend(leader.received());
    assert!(leader.received().len() >= 2, "the leader was retried");
    for request in &seen {
        assert_eq!(
            request,
            &json!({"key": "client-key-42", "name": "GameStart", "type": "sell", "quantity": 3})
        );
    }
}

#[tokio::test]
async fn an_order_without_a_key_header_gets_one_fresh_key_reused_on_retry() {
    let app = spawn_app().await;
    let replica = FakeReplica::start(
        &app.nats,
        order_trade(3),
        vec![
            json!({"status": "unavailable", "message": "busy"}),
            json!({"status": "ok", "data": {"transaction_number": 0}}),
        ],
    )
    .await;
    let _lease = LeaseHolder::start(&app.nats, 3).await;
    for _ in 0..2 {
        let (status, _) = post(
            &app,
            r#"{"name": "GameStart", "quantity": 1, "type": "buy"}"#,
        )
        .await;
        assert_eq!(status, 200);
    }
    let keys: Vec<Value> = replica
        .received()
        .iter()
        .map(|r| r["key"].clone())
        .collect();
    // First order: two attempts, one key; second order: one attempt, another key.
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert_eq!(keys[0], keys[1]);
    assert_ne!(keys[1], keys[2]);
    assert_eq!(keys[0].as_str().unwrap().len(), 36, "a UUID");
}

#[tokio::test]
async fn order_replies_map_to_404_409_and_500() {
    let app = spawn_app().await;
    let _replica = FakeReplica::start(
        &app.nats,
        order_trade(4),
        vec![
            json!({"status": "not_found", "message": "no stock named Nope"}),
            json!({"status": "rejected", "message": "only 100 shares of GameStart are available"}),
            json!({"status": "error", "message": "disk on fire"}),
        ],
    )
    .await;
    let _lease = LeaseHolder::start(&app.nats, 4).await;
    let (status, body) = post(&app, r#"{"name": "Nope", "quantity": 1, "type": "buy"}"#).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": {"code": 404, "message": "stock not found"}})
        )
    );
    let (status, body) = post(
        &app,
        r#"{"name": "GameStart", "quantity": 500, "type": "buy"}"#,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        body["error"]["message"],
        "only 100 shares of GameStart are available"
    );
    let (status, body) = post(
        &app,
        r#"{"name": "GameStart", "quantity": 1, "type": "buy"}"#,
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["message"], "internal server error");
}

#[tokio::test]
async fn a_known_order_is_returned_and_an_unknown_one_is_a_404() {
    let app = spawn_app().await;
    let replica = FakeReplica::start(
        &app.nats,
        order_get(5),
        vec![
            json!({"status": "ok", "data": {"number": 0, "name": "GameStart", "type": "buy", "quantity": 1}}),
            json!({"status": "not_found", "message": "no order 9"}),
        ],
    )
    .await;
    let _lease = LeaseHolder::start(&app.nats, 5).await;
    let (status, body) = app.get_json("/orders/0").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"number": 0, "name": "GameStart", "type": "buy", "quantity": 1}})
    );
    let (status, body) = app.get_json("/orders/9").await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": {"code": 404, "message": "order not found"}})
        )
    );
    assert_eq!(
        replica.received(),
        vec![json!({"number": 0}), json!({"number": 9})]
    );
}

#[tokio::test]
async fn an_order_number_that_is_not_a_non_negative_integer_is_a_400() {
    let app = spawn_app().await;
    for path in [
        "/orders/abc",
        "/orders/-1",
        "/orders/1.5",
        "/orders/99999999999999999999",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], 400);
    }
}

#[tokio::test]
async fn an_order_waiting_on_a_leader_that_went_silent_is_resent_to_the_next_leader() {
    // One attempt may take the whole budget: without following the lease, the order would wait
    // on the silent replica and end in a 503.
    let app = spawn_app_with(Options {
        attempt_timeout_ms: 30_000,
        retry_budget_ms: 30_000,
        ..Options::default()
    })
    .await;
    let mut silent = app.nats.subscribe(order_trade(1)).await.unwrap();
    app.nats.flush().await.unwrap();
    let successor = FakeReplica::start(
        &app.nats,
        order_trade(2),
        vec![json!({"status": "ok", "data": {"transaction_number": 11}})],
    )
    .await;
    let first_lease = LeaseHolder::start(&app.nats, 1).await;
    wait_until(SETTLE, "the frontend sees leader 1", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 1
    })
    .await;

    let order = tokio::spawn({
        let request = app
            .http
            .post(app.url("/orders"))
            .header("Idempotency-Key", "resent-key")
            .body(r#"{"name": "GameStart", "quantity": 2, "type": "buy"}"#);
        async move { request.send().await.unwrap() }
    });
    let stuck = tokio::time::timeout(Duration::from_secs(10), silent.next())
        .await
        .expect("the order reached the first leader")
        .unwrap();
    drop(first_lease);
    let _second_lease = LeaseHolder::start(&app.nats, 2).await;

    let response = order.await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"data": {"transaction_number": 11}}));
    let first: Value = serde_json::from_slice(&stuck.payload).unwrap();
    assert_eq!(successor.received(), vec![first.clone()]);
    assert_eq!(first["key"], "resent-key");
}

/// POSTs `body` with an `Idempotency-Key` and returns status and JSON body.
async fn post_with_key(app: &TestApp, key: &str, body: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/orders"))
        .header("Idempotency-Key", key)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_order_is_a_422_naming_the_first() {
    let app = spawn_app().await;
    let _relay = CatalogRelay::start(&app.nats, order_trade(6)).await;
    let _lease = LeaseHolder::start(&app.nats, 6).await;
    let first_order = r#"{"name": "GameStart", "quantity": 1, "type": "buy"}"#;

    let first = post_with_key(&app, "reused-key", first_order).await;
    let other = post_with_key(
        &app,
        "reused-key",
        r#"{"name": "MenhirCo", "quantity": 7, "type": "sell"}"#,
    )
    .await;
    let again = post_with_key(&app, "reused-key", first_order).await;

    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(
        other,
        (
            422,
            json!({"error": {"code": 422, "message": "Idempotency-Key reused-key was first used for buy 1 GameStart"}})
        )
    );
    assert_eq!(again, first, "the first order keeps its answer");
    let (_, menhir) = app.get_json("/stocks/MenhirCo").await;
    assert_eq!(menhir["data"]["quantity"], 100, "the reuse changed nothing");
}
