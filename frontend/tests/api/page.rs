//! The trading page and its assets: served from the binary with their content types, an ETag
//! that turns a reload into a bodiless 304, and a policy that allows only this origin.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_types_caching_and_policy() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<title>Stock Bazaar</title>",
        ),
        (
            "/app.js",
            "text/javascript; charset=utf-8",
            "new EventSource('/stocks/events')",
        ),
        ("/app.css", "text/css; charset=utf-8", ".visually-hidden"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type, "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{path}: {policy}");
        let etag = headers["etag"].to_str().unwrap().to_string();
        assert!(response.text().await.unwrap().contains(marker), "{path}");

        let again = app
            .http
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(
            again.bytes().await.unwrap().is_empty(),
            "{path}: a 304 has no body"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_json_routes_keep_their_contract_beside_the_page() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/stocks/GameStart").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({"data": {"name": "GameStart", "price": 15.99, "quantity": 100}})
    );
    app.stop().await;
}
