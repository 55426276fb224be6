//! Registration with the NATS service protocol ("micro"), so `nats micro ls`, `nats micro info`
//! and `nats micro stats` show every running instance, its version and endpoints, and how many
//! requests each endpoint answered, how many of them failed and how long they took.
//!
//! Replies keep the bus's JSON envelope ([`Reply`]) in every case. The service library counts an
//! error only for a reply it sends with an empty body, which no caller of ours could read; so a
//! failed reply (`invalid`, `unavailable`, `error`) goes out as an ordinary reply carrying the
//! `Nats-Service-Error` and `Nats-Service-Error-Code` headers, and is counted here, in each
//! endpoint's stats `data` as `{"error_replies": n}`.

use crate::messages::Reply;
use async_nats::service::{self, Service, ServiceExt as _};
use async_nats::HeaderMap;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Why registering a service failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot register the {name} service: {source}")]
pub struct MicroError {
    /// The service's name.
    pub name: String,
    /// What the library said.
    #[source]
    pub source: async_nats::Error,
}

/// Failed replies per endpoint name, shown in the endpoint's stats.
#[derive(Debug, Clone, Default)]
pub struct ErrorReplies(Arc<Mutex<HashMap<String, u64>>>);

impl ErrorReplies {
    fn record(&self, endpoint: &str) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry(endpoint.to_string()).or_default() += 1;
    }

    /// How many failed replies `endpoint` sent.
    pub fn count(&self, endpoint: &str) -> u64 {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(endpoint).copied().unwrap_or(0)
    }
}

/// A registered service instance and the counter its replies feed.
#[derive(Debug)]
pub struct Micro {
    /// The instance; add endpoints with `endpoint_builder()`, stop with `stop()`.
    pub service: Service,
    /// Failed replies, per endpoint.
    pub errors: ErrorReplies,
}

/// Registers one instance of service `name` at this crate's caller's `version`, its endpoints in
/// `queue_group`, with `metadata` (e.g. the replica id) shown by `nats micro info`.
///
/// # Errors
/// When the name or version is malformed or the discovery subscriptions cannot be made.
pub async fn start(
    client: &async_nats::Client,
    name: &str,
    version: &str,
    description: &str,
    queue_group: &str,
    metadata: HashMap<String, String>,
) -> Result<Micro, MicroError> {
    let errors = ErrorReplies::default();
    let counted = errors.clone();
    let service = client
        .service_builder()
        .description(description)
        .queue_group(queue_group)
        .metadata(metadata)
        .stats_handler(
            move |endpoint, _| serde_json::json!({ "error_replies": counted.count(&endpoint) }),
        )
        .start(name, version)
        .await
        .map_err(|source| MicroError {
            name: name.to_string(),
            source,
        })?;
    Ok(Micro { service, errors })
}

/// The status code a failed reply carries in `Nats-Service-Error-Code`, if it failed.
fn error_code<T>(reply: &Reply<T>) -> Option<(u16, &str)> {
    match reply {
        Reply::Invalid { message } => Some((400, message)),
        Reply::Unavailable { message } => Some((503, message)),
        Reply::Error { message } => Some((500, message)),
        _ => None,
    }
}

/// Sends `reply` to `request`, counting it (and marking it with the service-error headers)
/// when it failed. A request without a reply subject (a publish) gets nothing, as before.
///
/// # Errors
/// When the reply cannot be published.
pub async fn respond<T: Serialize>(
    request: &service::Request,
    endpoint: &str,
    reply: &Reply<T>,
    errors: &ErrorReplies,
) -> Result<(), async_nats::PublishError> {
    if request.message.reply.is_none() {
        return Ok(());
    }
    let mut headers = HeaderMap::new();
    if let Some((code, message)) = error_code(reply) {
        errors.record(endpoint);
        headers.insert(service::NATS_SERVICE_ERROR, first_line(message));
        headers.insert(service::NATS_SERVICE_ERROR_CODE, code.to_string().as_str());
    }
    request
        .respond_with_headers(Ok(reply.to_bytes()), headers)
        .await
}

/// A header value must not hold line breaks.
fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failed_replies_carry_an_error_code() {
        assert_eq!(error_code(&Reply::ok(1)), None);
        assert_eq!(error_code(&Reply::<()>::not_found("x")), None);
        assert_eq!(error_code(&Reply::<()>::invalid("bad")), Some((400, "bad")));
        assert_eq!(
            error_code(&Reply::<()>::unavailable("down")).unwrap().0,
            503
        );
        assert_eq!(error_code(&Reply::<()>::error("boom")).unwrap().0, 500);
    }

    #[test]
    fn counts_are_per_endpoint() {
        let errors = ErrorReplies::default();
        errors.record("trade");
        errors.record("trade");
        errors.record("get");
        assert_eq!(errors.count("trade"), 2);
        assert_eq!(errors.count("digest"), 0);
    }
}
