//! `GET /openapi.json`: the document lists exactly the routes the router serves, with the
//! statuses, headers and media types each can answer, and the README's contract table agrees.

use crate::helpers::{spawn_app, TestApp};
use bazaar_frontend::bus::Bus;
use bazaar_frontend::cache::StockCache;
use bazaar_frontend::events::StockEvents;
use bazaar_frontend::http::{self, AppState};
use bazaar_frontend::leader::LeaderTracker;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Methods a path can be asked with, besides the ones it serves.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn document(app: &TestApp) -> Value {
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Path -> methods (upper case), as the document has them.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .map(|m| m.to_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The paths the router has registered, read from its own route table (its `Debug` output
/// lists the path of every route it holds, before the fallback's).
async fn registered_paths(app: &TestApp) -> BTreeSet<String> {
    let client = async_nats::connect(app.server.url()).await.unwrap();
    let leader = Arc::new(LeaderTracker::new(client.clone(), Duration::from_secs(1)));
    let state = Arc::new(AppState {
        cache: StockCache::new(1),
        bus: Bus::new(
            client.clone(),
            Arc::clone(&leader),
            Duration::from_secs(1),
            Duration::from_secs(1),
        ),
        readiness: bazaar_frontend::readiness::Readiness::new(client.clone(), Arc::clone(&leader)),
        leader,
        client,
        events: Arc::new(StockEvents::new(
            Duration::from_secs(15),
            CancellationToken::new(),
        )),
    });
    let router = http::router(state, Duration::from_secs(5), None);
    let table = format!("{router:?}");
    let own_routes = table
        .split("fallback_router")
        .next()
        .expect("the router's Debug output starts with its own routes");
    // Its node maps each route id to a path: `RouteId(3): "/app.css"`.
    let paths: BTreeSet<String> = own_routes
        .split("RouteId(")
        .filter_map(|piece| piece.split_once(r#"): ""#))
        .filter_map(|(_, rest)| rest.split_once('"'))
        .map(|(path, _)| path.to_string())
        .collect();
    assert!(
        paths.contains("/stocks/{name}"),
        "read the table: {paths:?}"
    );
    paths
}

/// A request path for a documented template.
fn concrete(path: &str) -> String {
    path.replace("{name}", "GameStart").replace("{number}", "0")
}

/// Sends `method path` and returns status, `Allow` and the error message if any.
async fn probe(app: &TestApp, method: &str, path: &str) -> (u16, Option<String>, String) {
    let request = app
        .http
        .request(method.parse().unwrap(), app.url(&concrete(path)))
        .timeout(Duration::from_secs(10));
    let request = if method == "POST" {
        request.body(r#"{"name":"GameStart","quantity":1,"type":"buy"}"#)
    } else {
        request
    };
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string());
    let message = if path == "/stocks/events" && status == 200 {
        String::new() // an endless stream: the status line is all we need
    } else {
        let body: Value = response.json().await.unwrap_or(Value::Null);
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (status, allow, message)
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);

    let registered = registered_paths(&app).await;
    let paths: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(registered, paths, "router paths vs document paths");

    for (path, methods) in &documented {
        for method in METHODS {
            let (status, allow, message) = probe(&app, method, path).await;
            if methods.contains(method) {
                assert_ne!(status, 405, "{method} {path} is documented but refused");
                assert!(
                    !message.starts_with("no route"),
                    "{method} {path} is documented but has no route"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} answers but is not documented");
                let allowed: BTreeSet<String> = allow
                    .expect("a 405 says what is allowed")
                    .split(',')
                    .map(|m| m.trim().to_string())
                    .filter(|m| m != "HEAD")
                    .collect();
                assert_eq!(&allowed, methods, "Allow of {path}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn every_operation_documents_the_statuses_it_can_answer() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let expected: [(&str, &str, &[&str]); 13] = [
        ("/", "get", &["200", "304", "405", "429"]),
        ("/app.js", "get", &["200", "304", "405", "429"]),
        ("/app.css", "get", &["200", "304", "405", "429"]),
        ("/stocks", "get", &["200", "405", "429", "500", "503"]),
        (
            "/stocks/events",
            "get",
            &["200", "405", "429", "500", "503"],
        ),
        (
            "/stocks/{name}",
            "get",
            &["200", "400", "404", "405", "429", "500", "503"],
        ),
        (
            "/orders",
            "post",
            &[
                "200", "400", "404", "405", "409", "413", "422", "429", "500", "503",
            ],
        ),
        (
            "/orders/{number}",
            "get",
            &["200", "400", "404", "405", "429", "500", "503"],
        ),
        ("/healthz", "get", &["200", "405", "429"]),
        ("/readyz", "get", &["200", "405", "429", "503"]),
        ("/metrics", "get", &["200", "405", "429"]),
        ("/cache", "get", &["200", "405", "429"]),
        ("/openapi.json", "get", &["200", "405", "429"]),
    ];
    assert_eq!(doc["paths"].as_object().unwrap().len(), expected.len());
    for (path, method, statuses) in expected {
        let responses = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is documented"));
        let listed: Vec<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(listed, statuses, "{method} {path}");
    }

    // The reusable errors carry the JSON error body, and the retryable ones Retry-After.
    let components = &doc["components"];
    assert!(components["schemas"]["ErrorBody"]["properties"]["error"].is_object());
    for (name, header) in [
        ("TooManyRequests", "Retry-After"),
        ("Unavailable", "Retry-After"),
        ("MethodNotAllowed", "Allow"),
    ] {
        let response = &components["responses"][name];
        assert_eq!(
            response["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{name}"
        );
        assert!(
            response["headers"][header].is_object(),
            "{name} has {header}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_document_describes_the_key_header_the_etag_and_the_event_stream() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let post = &doc["paths"]["/orders"]["post"];
    let key = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .expect("POST /orders documents Idempotency-Key");
    assert_eq!(key["in"], "header");
    assert_eq!(key["required"], false);
    assert_eq!(key["schema"]["type"], "string");
    assert_eq!(key["schema"]["maxLength"], 128);
    let body = &doc["components"]["schemas"]["OrderRequest"];
    assert_eq!(
        body["properties"]["type"]["enum"],
        serde_json::json!(["buy", "sell"])
    );
    assert_eq!(body["properties"]["quantity"]["maximum"], 1_000_000);

    let lookup = &doc["paths"]["/stocks/{name}"]["get"]["responses"]["200"];
    assert!(lookup["headers"]["ETag"].is_object());

    let stream = &doc["paths"]["/stocks/events"]["get"]["responses"]["200"]["content"];
    assert!(stream["text/event-stream"].is_object(), "{stream}");
    assert!(doc["components"]["schemas"]["StockEvent"]["properties"]["version"].is_object());
    app.stop().await;
}

#[tokio::test]
async fn the_readme_contract_table_lists_every_documented_route() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented: BTreeSet<String> = documented(&doc)
        .into_iter()
        .flat_map(|(path, methods)| methods.into_iter().map(move |m| format!("{m} {path}")))
        .collect();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let mut table = BTreeSet::new();
    for line in readme.lines().filter(|l| l.starts_with("| `")) {
        let route = line[3..].split('`').next().unwrap_or_default();
        let mut words = route.split_whitespace();
        if let (Some(method), Some(path)) = (words.next(), words.next()) {
            if METHODS.contains(&method) {
                table.insert(format!("{method} {path}"));
            }
        }
    }
    assert_eq!(table, documented, "README's contract table vs the document");
    app.stop().await;
}
