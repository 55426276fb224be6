//! `GET /healthz`.

use crate::helpers::{spawn_app, wait_until, LeaseHolder, SETTLE};

#[tokio::test]
async fn health_reports_nats_connected_and_no_leader_when_none_holds_the_lease() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"data": {"status": "ok", "nats": "connected", "leader": null}})
    );
}

#[tokio::test]
async fn health_names_the_replica_that_holds_the_leader_lease() {
    let app = spawn_app().await;
    let _lease = LeaseHolder::start(&app.nats, 2).await;
    wait_until(SETTLE, "the frontend sees leader 2", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 2
    })
    .await;
}

#[tokio::test]
async fn health_reports_nats_disconnected_while_the_server_is_down() {
    let mut app = spawn_app().await;
    app.server.kill();
    wait_until(SETTLE, "the frontend sees NATS down", || async {
        let (status, body) = app.get_json("/healthz").await;
        status == 200 && body["data"]["nats"] == "disconnected"
    })
    .await;
}

#[tokio::test]
async fn the_leader_is_followed_again_after_nats_restarts() {
    let mut app = spawn_app().await;
    let first = LeaseHolder::start(&app.nats, 2).await;
    wait_until(SETTLE, "the frontend sees leader 2", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 2
    })
    .await;
    drop(first);
    app.server.restart();
    // A new leader is elected after the restart; only a re-created watch can tell.
    let _second = loop {
        let js = async_nats::jetstream::new(app.nats.clone());
        if tokio::time::timeout(std::time::Duration::from_secs(1), js.query_account())
            .await
            .is_ok_and(|r| r.is_ok())
        {
            break LeaseHolder::start(&app.nats, 3).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    wait_until(SETTLE, "the frontend sees leader 3", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 3
    })
    .await;
}
