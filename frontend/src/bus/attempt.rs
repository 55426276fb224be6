//! One request to a catalog or order replica, and what its reply means for the call: done,
//! redirected to another leader, or worth another try.

use super::{Bus, BusError};
use async_nats::{Request, RequestErrorKind};
use bazaar_nats::messages::{decode, Reply};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::time::Instant;

/// The outcome of one attempt.
pub(super) enum Attempt<T> {
    /// A reply that ends the call.
    Done(Result<T, BusError>),
    /// The replica is not the leader; it names the one it knows, if any.
    NotLeader(Option<u32>),
    /// Worth another try (timeout, no responders, `unavailable`): the reason's metric label
    /// and a sentence saying why.
    Retry(&'static str, String),
}

impl Bus {
    /// One request, bounded by the attempt timeout and what is left of the budget.
    pub(super) async fn attempt<T: DeserializeOwned>(
        &self,
        subject: String,
        payload: Bytes,
        deadline: Instant,
    ) -> Attempt<T> {
        let left = deadline.saturating_duration_since(Instant::now());
        // At least a millisecond, so a spent budget still makes its one attempt.
        let timeout = self.attempt_timeout.min(left).max(Duration::from_millis(1));
        let request = Request::new().payload(payload).timeout(Some(timeout));
        let message = match self.client.send_request(subject.clone(), request).await {
            Ok(message) => message,
            Err(e) => {
                return match e.kind() {
                    RequestErrorKind::TimedOut => {
                        Attempt::Retry("timeout", "request timed out".to_string())
                    }
                    RequestErrorKind::NoResponders => {
                        Attempt::Retry("no_responders", "no responders".to_string())
                    }
                    RequestErrorKind::InvalidSubject | RequestErrorKind::MaxPayloadExceeded => {
                        Attempt::Done(Err(BusError::Internal(format!(
                            "NATS refused the request: {e}"
                        ))))
                    }
                    RequestErrorKind::Other => {
                        Attempt::Retry("error", format!("request failed: {e}"))
                    }
                };
            }
        };
        match decode::<Reply<T>>(&message.payload) {
            Ok(Reply::Ok { data }) => Attempt::Done(Ok(data)),
            Ok(Reply::NotFound { message }) => Attempt::Done(Err(BusError::NotFound(message))),
            Ok(Reply::Rejected { message }) => Attempt::Done(Err(BusError::Rejected(message))),
            Ok(Reply::KeyReused { message }) => Attempt::Done(Err(BusError::KeyReused(message))),
            Ok(Reply::Invalid { message }) => Attempt::Done(Err(BusError::Invalid(message))),
            Ok(Reply::NotLeader { leader }) => Attempt::NotLeader(leader),
            Ok(Reply::Unavailable { message }) => Attempt::Retry("unavailable", message),
            Ok(Reply::Error { message }) => Attempt::Done(Err(BusError::Internal(format!(
                "{subject} answered an error: {message}"
            )))),
            Err(e) => Attempt::Done(Err(BusError::Internal(format!(
                "unreadable reply to {subject}: {e}"
            )))),
        }
    }
}
