//! The `Idempotency-Key` contract through the whole system: a key names one order; the same
//! order gets the first answer, another order a 422 naming the first, and the catalog always
//! equals the order log.

use crate::helpers::error_message;
use async_nats::jetstream::consumer;
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::OrderRecord;
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const STOCKS: [&str; 4] = ["GameStart", "FishCo", "BoarCo", "MenhirCo"];

/// One order as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Body {
    name: &'static str,
    side: &'static str,
    quantity: u64,
}

impl Body {
    fn json(&self) -> String {
        json!({"name": self.name, "quantity": self.quantity, "type": self.side}).to_string()
    }

    /// How the catalog names this order when its key is reused.
    fn named(&self) -> String {
        format!("{} {} {}", self.side, self.quantity, self.name)
    }

    fn is_logged_as(&self, record: &OrderRecord) -> bool {
        record.name.as_str() == self.name
            && record.side.as_str() == self.side
            && record.quantity.get() == self.quantity
    }
}

/// `POST /orders` with an `Idempotency-Key`: status and JSON body.
async fn post_keyed(system: &System, key: &str, body: &Body) -> (u16, Value) {
    let response = system
        .http
        .post(format!("{}/orders", system.url()))
        .header("Idempotency-Key", key)
        .body(body.json())
        .send()
        .await
        .expect("frontend answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn number_of(body: &Value) -> u64 {
    body["data"]["transaction_number"]
        .as_u64()
        .unwrap_or_else(|| panic!("no transaction number in {body}"))
}

/// Every order in the ORDERS stream, in stream order.
async fn order_log(system: &System) -> Vec<OrderRecord> {
    let js = async_nats::jetstream::new(system.client.clone());
    let stream = js
        .get_stream(ORDERS_STREAM)
        .await
        .expect("the ORDERS stream");
    let Ok(last) = stream.get_last_raw_message_by_subject(ORDERS_NEW).await else {
        return Vec::new();
    };
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: ORDERS_NEW.to_string(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .expect("a consumer on the log");
    let mut messages = consumer.messages().await.expect("the log's messages");
    let mut records = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the log is read within 10 s")
            .expect("the consumer is open")
            .expect("a message");
        records.push(serde_json::from_slice(&message.payload).expect("an order record"));
        if message.info().expect("stream info").stream_sequence >= last.sequence {
            return records;
        }
    }
}

/// Every stock's quantity as `GET /stocks` shows it.
async fn quantities(system: &System) -> BTreeMap<String, i64> {
    let (status, body) = system.get("/stocks").await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .expect("a list of stocks")
        .iter()
        .map(|s| {
            let name = s["name"].as_str().expect("a name").to_string();
            (name, s["quantity"].as_i64().expect("a quantity"))
        })
        .collect()
}

/// Asserts each key is in the log at most once and the catalog holds `initial` moved by every
/// logged order; returns the log's orders by key.
async fn assert_catalog_equals_log(
    system: &System,
    initial: &BTreeMap<String, i64>,
) -> HashMap<String, OrderRecord> {
    let log = order_log(system).await;
    let mut expected = initial.clone();
    let mut by_key = HashMap::new();
    for record in log {
        let delta = i64::try_from(record.quantity.get()).expect("a small quantity");
        let quantity = expected
            .get_mut(record.name.as_str())
            .expect("a known stock");
        *quantity += if record.side.as_str() == "buy" {
            -delta
        } else {
            delta
        };
        let key = record.key.to_string();
        assert!(
            by_key.insert(key.clone(), record).is_none(),
            "key {key} is in the log twice"
        );
    }
    assert_eq!(
        quantities(system).await,
        expected,
        "the catalog must equal its initial stocks moved by the logged orders"
    );
    by_key
}

#[tokio::test]
async fn a_key_keeps_its_first_order_and_refuses_another_with_a_422() {
    let system = System::start(SystemOptions::default()).await;
    let initial = quantities(&system).await;
    let first = Body {
        name: "GameStart",
        side: "buy",
        quantity: 1,
    };
    let other = Body {
        name: "MenhirCo",
        side: "sell",
        quantity: 7,
    };

    let (status, body) = post_keyed(&system, "K", &first).await;
    assert_eq!(status, 200, "{body}");
    let number = number_of(&body);
    let (status, body) = post_keyed(&system, "K", &other).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_message(422, &body),
        "Idempotency-Key K was first used for buy 1 GameStart"
    );
    let (status, body) = post_keyed(&system, "K", &first).await;
    assert_eq!((status, number_of(&body)), (200, number), "{body}");

    let logged = assert_catalog_equals_log(&system, &initial).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(first.is_logged_as(&logged["K"]), "{:?}", logged["K"]);
    assert_eq!(logged["K"].number, number);
}

#[tokio::test]
async fn two_orders_sent_at_once_under_one_key_never_both_succeed() {
    let system = System::start(SystemOptions::default()).await;
    let initial = quantities(&system).await;
    let pairs: Vec<(String, [Body; 2])> = (0..30)
        .map(|i| {
            let buy = Body {
                name: STOCKS[i % STOCKS.len()],
                side: "buy",
                quantity: 1 + (i as u64 % 3),
            };
            let sell = Body {
                name: STOCKS[(i + 1) % STOCKS.len()],
                side: "sell",
                quantity: 2 + (i as u64 % 5),
            };
            (format!("pair-{i}"), [buy, sell])
        })
        .collect();

    let system_ref = &system;
    let answers = futures::future::join_all(pairs.iter().map(|(key, [a, b])| async move {
        tokio::join!(
            post_keyed(system_ref, key, a),
            post_keyed(system_ref, key, b)
        )
    }))
    .await;

    let logged = assert_catalog_equals_log(&system, &initial).await;
    assert_eq!(logged.len(), pairs.len(), "one order logged per key");
    for ((key, bodies), (answer_a, answer_b)) in pairs.iter().zip(answers) {
        let answers = [answer_a, answer_b];
        let won: Vec<usize> = (0..2).filter(|&i| answers[i].0 == 200).collect();
        assert_eq!(
            won.len(),
            1,
            "{key}: exactly one order succeeds: {answers:?}"
        );
        let (winner, loser) = (won[0], 1 - won[0]);
        let (status, body) = &answers[loser];
        assert_eq!(*status, 422, "{key}: the other is refused: {body}");
        assert_eq!(
            error_message(422, body),
            format!(
                "Idempotency-Key {key} was first used for {}",
                bodies[winner].named()
            )
        );
        let record = &logged[key.as_str()];
        assert!(bodies[winner].is_logged_as(record), "{key}: {record:?}");
        assert_eq!(record.number, number_of(&answers[winner].1), "{key}");
    }
}

#[tokio::test]
async fn copies_of_one_order_sent_at_once_all_get_the_first_answer() {
    let system = System::start(SystemOptions::default()).await;
    let initial = quantities(&system).await;
    let orders: Vec<(String, Body)> = (0..10)
        .map(|i| {
            let body = Body {
                name: STOCKS[i % STOCKS.len()],
                side: if i % 2 == 0 { "buy" } else { "sell" },
                quantity: 1 + i as u64,
            };
            (format!("copies-{i}"), body)
        })
        .collect();

    let system_ref = &system;
    let answers = futures::future::join_all(orders.iter().map(|(key, body)| async move {
        futures::future::join_all((0..3).map(|_| post_keyed(system_ref, key, body))).await
    }))
    .await;

    let logged = assert_catalog_equals_log(&system, &initial).await;
    assert_eq!(logged.len(), orders.len(), "one order logged per key");
    for ((key, body), copies) in orders.iter().zip(answers) {
        let numbers: Vec<u64> = copies
            .iter()
            .map(|(status, answer)| {
                assert_eq!(*status, 200, "{key}: {answer}");
                number_of(answer)
            })
            .collect();
        let record = &logged[key.as_str()];
        assert!(body.is_logged_as(record), "{key}: {record:?}");
        assert_eq!(numbers, vec![record.number; 3], "{key}: one number for all");
    }
}
