//! `GET /readyz` and `GET /metrics`.

use crate::helpers::{spawn_app, spawn_app_with, wait_until, LeaseHolder, Options, SETTLE};

#[tokio::test]
async fn not_ready_while_no_order_leader_is_known() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], 503);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no order leader"), "{message}");
}

#[tokio::test]
async fn ready_once_a_leader_holds_the_lease_and_the_catalog_answers() {
    let app = spawn_app().await;
    let _lease = LeaseHolder::start(&app.nats, 2).await;
    wait_until(SETTLE, "the frontend is ready", || async {
        let (status, body) = app.get_json("/readyz").await;
        status == 200 && body == serde_json::json!({"data": {"status": "ready", "leader": 2}})
    })
    .await;
}

#[tokio::test]
async fn not_ready_while_the_catalog_does_not_answer() {
    let app = spawn_app_with(Options {
        with_catalog: false,
        ..Options::default()
    })
    .await;
    let _lease = LeaseHolder::start(&app.nats, 1).await;
    wait_until(SETTLE, "the frontend sees the leader", || async {
        app.get_json("/healthz").await.1["data"]["leader"] == 1
    })
    .await;
    wait_until(SETTLE, "readyz names the catalog", || async {
        let (status, body) = app.get_json("/readyz").await;
        status == 503
            && body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("catalog does not answer"))
    })
    .await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_not_raw_path() {
    let app = spawn_app().await;
    for name in ["GameStart", "FishCo", "NoSuchStock"] {
        app.get_json(&format!("/stocks/{name}")).await;
    }
    let response = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(
        body.contains(r#"route="/stocks/{name}""#),
        "requests are labelled by template: {body}"
    );
    assert!(!body.contains("FishCo"), "no raw path in a label: {body}");
    assert!(body.contains("bazaar_cache_misses_total"), "{body}");
    assert!(
        body.contains("bazaar_http_request_duration_seconds_bucket"),
        "{body}"
    );
}
