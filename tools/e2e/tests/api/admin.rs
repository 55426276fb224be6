//! The operator's fault injection over NATS (`admin.>`), against the real binaries on the
//! secured bus: each subject does what it says, bad requests are refused with an error, a
//! service started without `--fault-injection` does not answer, and no role but the operator
//! may send them.

use crate::helpers::must_trade;
use bazaar_e2e::system::wait_until;
use bazaar_e2e::{System, SystemOptions};
use bazaar_nats::messages::{encode, StockLookup};
use bazaar_nats::subjects::{
    admin_catalog_delay, admin_catalog_pause, admin_order_crash, admin_order_pause,
    admin_order_stepdown, order_digest, STOCK_LOOKUP,
};
use bazaar_nats::testing::Role;
use serde_json::Value;
use std::time::{Duration, Instant};

async fn system(fault_injection: bool) -> System {
    System::start(SystemOptions {
        secured: true,
        fault_injection,
        ..SystemOptions::default()
    })
    .await
}

/// Sends an admin request as the operator and returns the JSON answer.
async fn admin(system: &System, subject: String, body: &str) -> Value {
    let reply = system
        .client
        .request(subject.clone(), body.to_string().into())
        .await
        .unwrap_or_else(|e| panic!("{subject} answered: {e}"));
    serde_json::from_slice(&reply.payload).expect("a JSON answer")
}

async fn lookup_answers(system: &System, within: Duration) -> bool {
    let name = bazaar_nats::StockName::parse("GameStart").expect("a name");
    let request = async_nats::Request::new()
        .payload(encode(&StockLookup { name }))
        .timeout(Some(within));
    system
        .client
        .send_request(STOCK_LOOKUP, request)
        .await
        .is_ok()
}

#[tokio::test]
async fn stepdown_hands_the_leadership_to_another_replica() {
    let system = system(true).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let follower = if leader == 1 { 2 } else { 1 };
    let answer = admin(&system, admin_order_stepdown(follower), "").await;
    assert_eq!(answer["status"], "ok", "{answer}");
    assert!(answer["note"]
        .as_str()
        .is_some_and(|n| n.contains("not leading")));

    let answer = admin(&system, admin_order_stepdown(leader), "").await;
    assert_eq!(answer, serde_json::json!({"status": "ok"}));
    let next = system
        .wait_for_leader(Some(leader), Duration::from_secs(10))
        .await;
    assert_ne!(next, leader);
    must_trade(&system, "GameStart", 1, "buy").await;
}

#[tokio::test]
async fn a_paused_leader_is_replaced_and_rejoins_as_a_follower() {
    let mut system = system(true).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    must_trade(&system, "GameStart", 1, "buy").await;
    let answer = admin(&system, admin_order_pause(leader), r#"{"ms":3000}"#).await;
    assert_eq!(answer["status"], "ok", "{answer}");
    let paused_at = Instant::now();

    let next = system
        .wait_for_leader(Some(leader), Duration::from_secs(10))
        .await;
    assert_ne!(next, leader);
    let probe = async_nats::Request::new()
        .payload(bytes::Bytes::new())
        .timeout(Some(Duration::from_millis(300)));
    let answer = system
        .client
        .send_request(order_digest(leader), probe)
        .await;
    assert!(answer.is_err(), "a paused replica answers nothing");
    must_trade(&system, "FishCo", 2, "buy").await;

    tokio::time::sleep(Duration::from_secs(3).saturating_sub(paused_at.elapsed())).await;
    wait_until(
        Duration::from_secs(10),
        "the paused replica to answer again",
        || async { system.digest(leader).await.is_some_and(|d| !d.leader) },
    )
    .await;
    assert_ne!(system.leader().await, Some(leader));
    must_trade(&system, "GameStart", 1, "sell").await;
    let converged = system.wait_converged(3, Duration::from_secs(15)).await;
    assert!(
        converged.iter().any(|d| d.replica == leader),
        "{converged:?}"
    );
    assert!(system.order(leader).is_running());
}

#[tokio::test]
async fn a_crashed_replica_exits_at_once() {
    let mut system = system(true).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let victim = if leader == 3 { 2 } else { 3 };
    let answer = admin(&system, admin_order_crash(victim), "").await;
    assert_eq!(answer["status"], "ok", "{answer}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while system.order(victim).is_running() {
        assert!(Instant::now() < deadline, "order-{victim} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(system.order(victim).log().contains("crashing on request"));
    assert!(
        !system.order(victim).log().contains("order replica stopped"),
        "a crash does not drain"
    );
    must_trade(&system, "GameStart", 1, "buy").await;
}

#[tokio::test]
async fn a_delayed_catalog_slows_trades_and_a_paused_one_answers_nothing() {
    let system = system(true).await;
    let delay = Duration::from_millis(400);
    let answer = admin(
        &system,
        admin_catalog_delay(),
        r#"{"ms":400,"for_ms":20000}"#,
    )
    .await;
    assert_eq!(answer["status"], "ok", "{answer}");
    let started = Instant::now();
    must_trade(&system, "GameStart", 1, "buy").await;
    assert!(
        started.elapsed() >= delay,
        "the trade waited for the catalog"
    );
    let answer = admin(&system, admin_catalog_delay(), r#"{"ms":0,"for_ms":0}"#).await;
    assert_eq!(answer["status"], "ok", "{answer}");

    let answer = admin(&system, admin_catalog_pause(), r#"{"ms":2000}"#).await;
    assert_eq!(answer["status"], "ok", "{answer}");
    assert!(
        !lookup_answers(&system, Duration::from_millis(800)).await,
        "a paused catalog answered"
    );
    wait_until(
        Duration::from_secs(10),
        "the catalog to answer again",
        || lookup_answers(&system, Duration::from_millis(500)),
    )
    .await;
}

#[tokio::test]
async fn bad_admin_requests_are_refused_with_an_error_and_logged() {
    let system = system(true).await;
    for (subject, body) in [
        (admin_catalog_delay(), "not json"),
        (admin_catalog_pause(), r#"{"ms":600000}"#),
        (admin_order_pause(1), r#"{"seconds":3}"#),
        (admin_order_crash(1), "now"),
    ] {
        let answer = admin(&system, subject.clone(), body).await;
        assert_eq!(answer["status"], "error", "{subject} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let log = system.catalog.log();
    assert!(
        log.lines().any(|l| l.contains("bad admin request")
            && l.contains("admin.catalog.delay")
            && l.contains("not json")),
        "{log}"
    );
    assert!(system.orders[0].log().contains("admin.order.1.crash"));
    must_trade(&system, "GameStart", 1, "buy").await;
}

#[tokio::test]
async fn services_without_fault_injection_do_not_answer_admin_subjects() {
    let system = system(false).await;
    for subject in [
        admin_order_pause(1),
        admin_order_stepdown(2),
        admin_catalog_pause(),
    ] {
        let error = system
            .client
            .request(subject.clone(), r#"{"ms":1000}"#.into())
            .await
            .expect_err("nobody serves it");
        assert_eq!(
            error.kind(),
            async_nats::RequestErrorKind::NoResponders,
            "{subject}"
        );
    }
}

#[tokio::test]
async fn only_the_operator_may_send_admin_requests() {
    let system = system(true).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let secrets = system.secrets.as_ref().expect("a secured system");
    let (tx, mut refusals) = tokio::sync::mpsc::unbounded_channel();
    let frontend = async_nats::ConnectOptions::new()
        .user_and_password("frontend".into(), secrets.password(Role::Frontend))
        .custom_inbox_prefix(bazaar_nats::auth::inbox_prefix("frontend"))
        .request_timeout(Some(Duration::from_secs(1)))
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    let _ = tx.send(e.to_string());
                }
            }
        })
        .connect(system.nats.url())
        .await
        .expect("the frontend user connects");
    let subject = admin_order_stepdown(leader);
    assert!(frontend.request(subject.clone(), "".into()).await.is_err());
    let refusal = tokio::time::timeout(Duration::from_secs(5), refusals.recv())
        .await
        .expect("a refusal")
        .expect("a refusal");
    assert!(
        refusal.contains(&format!(
            "Permissions Violation for Publish to \"{subject}\""
        )),
        "{refusal}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(system.leader().await, Some(leader), "nothing stepped down");
}
