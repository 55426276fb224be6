//! `GET /stocks/{name}` and `GET /stocks`.

use crate::helpers::spawn_app;

#[tokio::test]
async fn looking_up_a_known_stock_returns_name_price_and_quantity_without_version() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/stocks/GameStart").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"data": {"name": "GameStart", "price": 15.99, "quantity": 100}})
    );
    app.stop().await;
}

#[tokio::test]
async fn looking_up_an_unknown_stock_is_a_404_saying_stock_not_found() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/stocks/NoSuchCo").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": 404, "message": "stock not found"}})
    );
}

#[tokio::test]
async fn looking_up_an_invalid_stock_name_is_a_400() {
    let app = spawn_app().await;
    for path in [
        "/stocks/bad%20name",
        "/stocks/semi;colon",
        &format!("/stocks/{}", "x".repeat(65)),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], 400);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("stock name"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn listing_stocks_returns_every_seeded_stock_without_versions() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/stocks").await;
    assert_eq!(status, 200);
    let stocks = body["data"].as_array().expect("an array");
    assert_eq!(stocks.len(), 10, "{body}");
    for stock in stocks {
        let fields: Vec<&str> = stock
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 3, "{stock}");
        assert!(stock["name"].is_string() && stock["price"].is_number());
        assert_eq!(stock["quantity"], 100);
    }
    assert!(stocks.iter().any(|s| s["name"] == "GameStart"));
}

#[tokio::test]
async fn a_lookup_with_no_catalog_running_is_a_503_with_retry_after() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        with_catalog: false,
        retry_budget_ms: 800,
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    let response = app
        .http
        .get(app.url("/stocks/GameStart"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 503);
}
