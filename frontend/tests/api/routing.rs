//! Unknown routes and wrong methods answer JSON errors too.

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/stocks/GameStart/extra",
        "/index.html",
        "/stocks/events/x",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], 404);
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405_with_allow() {
    let app = spawn_app().await;
    let response = app
        .http
        .delete(app.url("/stocks/GameStart"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers()["allow"]
        .to_str()
        .unwrap()
        .contains("GET"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 405);

    let response = app.http.get(app.url("/orders")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 405);
}
