//! The frontend's Prometheus metrics: what every HTTP request records, and the gauges read
//! from the frontend's state when `/metrics` is scraped.
//!
//! The per-request cost is kept to a counter and a histogram whose labels are all static
//! strings: the route is the matched path template (never the raw path, which would give one
//! series per stock name or order number), looked up in the fixed list of routes; the status
//! and method come from fixed tables too. Cache counters, the leader and the NATS state are
//! already counted elsewhere, so they are copied into the registry only at scrape time and
//! cost the hot path nothing.

use crate::http::AppState;
use async_nats::connection::State as ConnectionState;
use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Requests answered, by method, route and status.
pub const HTTP_REQUESTS: &str = "bazaar_http_requests_total";
/// Time to the answer's head, by method and route.
pub const HTTP_DURATION: &str = "bazaar_http_request_duration_seconds";

/// Every route template the router serves; anything else is counted as `<unmatched>`.
const ROUTES: [&str; 13] = [
    "/",
    "/app.js",
    "/app.css",
    "/stocks",
    "/stocks/events",
    "/stocks/{name}",
    "/orders",
    "/orders/{number}",
    "/healthz",
    "/readyz",
    "/cache",
    "/metrics",
    "/openapi.json",
];

/// Gives every frontend metric its help text (Prometheus shows it; promtool requires it).
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to the answer's head, by method and route template"
    );
    describe_counter!(
        "bazaar_cache_hits_total",
        "Stock lookups answered from the cache"
    );
    describe_counter!(
        "bazaar_cache_misses_total",
        "Stock lookups that went to the catalog"
    );
    describe_counter!(
        "bazaar_cache_evictions_total",
        "Cache entries pushed out to make room"
    );
    describe_counter!(
        "bazaar_cache_invalidations_total",
        "Invalidations the catalog announced and the cache applied"
    );
    describe_gauge!("bazaar_cache_entries", "Stocks cached now");
    describe_gauge!(
        "bazaar_cache_capacity",
        "Configured cache capacity (0: off)"
    );
    describe_gauge!(
        "bazaar_frontend_leader_known",
        "1 while the frontend knows an order leader"
    );
    describe_gauge!(
        "bazaar_frontend_leader_id",
        "The order leader's replica id (0: none known)"
    );
    describe_gauge!(
        "bazaar_frontend_nats_connected",
        "1 while the NATS connection is up"
    );
    describe_counter!(
        "bazaar_frontend_leader_changes_total",
        "Changes of the order leader seen (a vacancy counts as one)"
    );
    describe_counter!(
        "bazaar_frontend_retries_total",
        "Requests to the catalog or order leader sent again, by service and reason"
    );
    describe_counter!(
        "bazaar_frontend_unavailable_total",
        "Calls that spent their retry budget (answered 503), by service and last reason"
    );
}

/// Records one request: its count by method, route and status, and its latency.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = status_label(response.status().as_u16());
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The matched route's template as a static string, so the label costs no allocation.
fn route_label(matched: Option<&MatchedPath>) -> &'static str {
    matched
        .and_then(|m| ROUTES.iter().find(|r| **r == m.as_str()))
        .copied()
        .unwrap_or("<unmatched>")
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// The statuses the frontend answers, by name; any other is counted by its class.
fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        304 => "304",
        400 => "400",
        404 => "404",
        405 => "405",
        408 => "408",
        409 => "409",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}

/// Copies what the frontend counts elsewhere (the cache, the leader, the NATS connection) into
/// the registry, just before it is rendered.
pub fn observe(state: &AppState) {
    let cache = state.cache.counters();
    metrics::counter!("bazaar_cache_hits_total").absolute(cache.hits);
    metrics::counter!("bazaar_cache_misses_total").absolute(cache.misses);
    metrics::counter!("bazaar_cache_evictions_total").absolute(cache.evictions);
    metrics::counter!("bazaar_cache_invalidations_total").absolute(cache.invalidations);
    metrics::gauge!("bazaar_cache_entries").set(cache.entries as f64);
    metrics::gauge!("bazaar_cache_capacity").set(state.cache.capacity() as f64);
    let leader = state.leader.current();
    metrics::gauge!("bazaar_frontend_leader_known").set(f64::from(u8::from(leader.is_some())));
    metrics::gauge!("bazaar_frontend_leader_id").set(f64::from(leader.unwrap_or(0)));
    let connected = matches!(state.client.connection_state(), ConnectionState::Connected);
    metrics::gauge!("bazaar_frontend_nats_connected").set(f64::from(u8::from(connected)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_tables() {
        assert_eq!(route_label(None), "<unmatched>");
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(method_label(&Method::POST), "POST");
        assert_eq!(method_label(&Method::CONNECT), "OTHER");
    }
}
