//! The HTTP API: the router, the shared state, the success envelope and the JSON fallbacks.
//!
//! | route | handler |
//! |---|---|
//! | `GET /` (and `/app.js`, `/app.css`) | [`page`]: the trading page |
//! | `GET /stocks` | [`stocks`]: every stock |
//! | `GET /stocks/events` | [`events`]: every stock live, as Server-Sent Events |
//! | `GET /stocks/{name}` | [`stocks`]: one stock, through the cache |
//! | `POST /orders` | [`orders`]: place a trade |
//! | `GET /orders/{number}` | [`orders`]: one order |
//! | `GET /healthz` | [`health`]: liveness and what the frontend sees |
//! | `GET /readyz` | [`ready`]: 200 while a leader is known and the catalog answers |
//! | `GET /metrics` | [`scrape`]: Prometheus metrics |
//! | `GET /cache` | [`cache`]: cache counters and contents |
//! | `GET /openapi.json` | [`openapi`]: the OpenAPI document of all of these |
//!
//! [`api`] registers each route together with its OpenAPI description, so the router and the
//! document cannot disagree. Success bodies are `{"data": ...}`; every error body, including
//! unknown routes (404), wrong methods (405), oversized bodies (413), rate-limited requests (429)
//! and request timeouts, is the JSON of [`AppError`](crate::error::AppError).

mod cache;
mod events;
mod health;
pub mod openapi;
mod orders;
mod page;
mod ready;
mod schema;
mod scrape;
mod stocks;

use crate::bus::Bus;
use crate::cache::StockCache;
use crate::edge::rate_limit::{self, RateLimit};
use crate::error::{AppError, ErrorBody};
use crate::events::StockEvents;
use crate::leader::LeaderTracker;
use crate::readiness::Readiness;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Json, Router};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Largest request body accepted, in bytes (16 KiB); larger ones get a JSON 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The stock cache.
    pub cache: StockCache,
    /// Catalog and order calls with retry.
    pub bus: Bus,
    /// The order leader as last seen.
    pub leader: Arc<LeaderTracker>,
    /// The NATS client, for its connection state.
    pub client: async_nats::Client,
    /// The live feed of stock changes behind `GET /stocks/events`.
    pub events: Arc<StockEvents>,
    /// The cached check behind `GET /readyz`.
    pub readiness: Readiness,
}

/// A success body: `{"data": ...}` with status 200.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    /// The payload.
    pub data: T,
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// Every route with its OpenAPI description. [`router`] serves them; [`openapi::document`] is
/// the document they make.
pub fn api() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(<openapi::BaseDocument as utoipa::OpenApi>::openapi())
        .routes(routes!(page::index))
        .routes(routes!(page::script))
        .routes(routes!(page::style))
        .routes(routes!(stocks::list))
        .routes(routes!(events::stream))
        .routes(routes!(stocks::get_one))
        .routes(routes!(orders::create))
        .routes(routes!(orders::get_one))
        .routes(routes!(health::get))
        .routes(routes!(ready::get))
        .routes(routes!(scrape::get))
        .routes(routes!(cache::get))
        .routes(routes!(openapi::get))
}

/// Builds the router. `request_timeout` bounds each request (until its answer's head; an event
/// stream's body runs on), so a graceful shutdown cannot hang on one; set it above the retry
/// budget so it never cuts a retry loop short. `rate_limit`, when given, answers 429 to a client
/// address over its rate before any other work.
pub fn router(
    state: Arc<AppState>,
    request_timeout: Duration,
    rate_limit: Option<Arc<RateLimit>>,
) -> Router {
    let (routes, _) = api().split_for_parts();
    routes
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            rate_limit,
            rate_limit::enforce,
        ))
        .layer(middleware::map_response(json_errors))
        // Outside the rewrite and the rate limit, so it counts each request by the status its
        // client got.
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(
            TraceLayer::new_for_http()
                // DEBUG, like the per-request events: the subscriber formats a span's fields
                // when it is created, a real share of a cached lookup's work at the default
                // INFO level. `RUST_LOG=bazaar_frontend=debug` brings method and path back on
                // every line of a request.
                .make_span_with(|request: &Request| {
                    let path = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("<unmatched>", MatchedPath::as_str);
                    tracing::debug_span!("request", method = %request.method(), path)
                })
                // Failures are logged once by AppError, not again here.
                .on_failure(()),
        )
}

/// 404 for any path no route matches.
async fn no_route(uri: Uri) -> AppError {
    AppError::NotFound(format!("no route for {}", uri.path()))
}

/// 405 for a known path asked with a method it does not serve (axum adds the `Allow` header).
async fn wrong_method(request: Request) -> AppError {
    AppError::MethodNotAllowed(format!(
        "method {} is not allowed on {}",
        request.method(),
        request.uri().path()
    ))
}

/// Turns any error response that is not already JSON (a timeout, a rejection we did not map)
/// into the JSON error body, keeping its status and headers.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let message = match status {
        StatusCode::SERVICE_UNAVAILABLE => "the request took too long; try again shortly".into(),
        other => other
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase(),
    };
    let (mut parts, _) = response.into_parts();
    let body = ErrorBody::new(status, message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        parts
            .headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_error_responses_are_rewritten_as_json() {
        let plain = (StatusCode::REQUEST_TIMEOUT, "slow").into_response();
        let rewritten = json_errors(plain).await;
        assert_eq!(rewritten.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            rewritten.headers()[header::CONTENT_TYPE],
            "application/json"
        );
        let bytes = axum::body::to_bytes(rewritten.into_body(), 1024)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["error"]["code"], 408);
        assert_eq!(v["error"]["message"], "request timeout");
    }

    #[tokio::test]
    async fn a_timed_out_request_gets_retry_after() {
        let plain = StatusCode::SERVICE_UNAVAILABLE.into_response();
        let rewritten = json_errors(plain).await;
        assert_eq!(rewritten.headers()[header::RETRY_AFTER], "1");
    }
}
