//! Payloads of the operator's fault-injection subjects (`admin.>`, see `subjects`).
//!
//! They exist so that failure drills (a paused leader, a crashed replica, a slow catalog) can be
//! run over the bus from the `nats` CLI or the chaos runner, without signals or shell access to
//! the host. Every request gets an [`AdminReply`], sent before the fault takes effect.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The longest pause or delay a service accepts, and the longest a delay may last: an
/// operator's typo must not freeze a replica for an hour.
pub const MAX_FAULT_MS: u64 = 60_000;

/// Body of `admin.order.{id}.pause` and `admin.catalog.pause`: freeze for `ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseFault {
    /// How long to stay frozen, 1..=[`MAX_FAULT_MS`].
    pub ms: u64,
}

/// Body of `admin.order.{id}.delay` and `admin.catalog.delay`: hold every reply `ms`
/// milliseconds, for the next `for_ms` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayFault {
    /// Added to each reply, 0..=[`MAX_FAULT_MS`] (0 ends a delay early).
    pub ms: u64,
    /// How long the delay lasts, 0..=[`MAX_FAULT_MS`].
    pub for_ms: u64,
}

/// The answer to every admin request: `{"status":"ok"}` (with an optional `note`) or
/// `{"status":"error","error":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AdminReply {
    /// The fault was accepted and takes effect right after this reply.
    Ok {
        /// Something the operator should know, e.g. that a replica asked to step down was not
        /// leading.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The request was refused; nothing changed.
    Error {
        /// Why.
        error: String,
    },
}

impl AdminReply {
    /// `{"status":"ok"}`.
    pub fn ok() -> Self {
        Self::Ok { note: None }
    }

    /// `{"status":"ok","note":...}`.
    pub fn noted(note: impl Into<String>) -> Self {
        Self::Ok {
            note: Some(note.into()),
        }
    }

    /// `{"status":"error","error":...}`.
    pub fn error(error: impl Into<String>) -> Self {
        Self::Error {
            error: error.into(),
        }
    }
}

/// A millisecond figure of an admin request outside what the service accepts; the text names
/// the field for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be between {min} and {MAX_FAULT_MS}, not {value}")]
pub struct DurationOutOfRange {
    /// The request's field, e.g. `ms`.
    pub field: &'static str,
    /// The figure given.
    pub value: u64,
    /// The least the field accepts.
    pub min: u64,
}

/// Checks a millisecond figure against `min..=`[`MAX_FAULT_MS`].
///
/// # Errors
/// [`DurationOutOfRange`], naming `field`, when `value` is out of range.
pub fn fault_duration(
    field: &'static str,
    value: u64,
    min: u64,
) -> Result<Duration, DurationOutOfRange> {
    if value < min || value > MAX_FAULT_MS {
        return Err(DurationOutOfRange { field, value, min });
    }
    Ok(Duration::from_millis(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_a_status() {
        let ok = serde_json::to_value(AdminReply::ok()).unwrap();
        assert_eq!(ok, serde_json::json!({"status": "ok"}));
        let noted = serde_json::to_value(AdminReply::noted("not leading")).unwrap();
        assert_eq!(
            noted,
            serde_json::json!({"status": "ok", "note": "not leading"})
        );
        let error = serde_json::to_value(AdminReply::error("bad")).unwrap();
        assert_eq!(
            error,
            serde_json::json!({"status": "error", "error": "bad"})
        );
    }

    #[test]
    fn durations_past_the_cap_are_refused() {
        assert_eq!(
            fault_duration("ms", 3000, 1),
            Ok(Duration::from_millis(3000))
        );
        assert!(fault_duration("ms", 0, 1).is_err());
        assert!(fault_duration("ms", MAX_FAULT_MS + 1, 0)
            .unwrap_err()
            .to_string()
            .contains("ms must be between"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<PauseFault>(r#"{"ms":1,"x":2}"#).is_err());
        let delay: DelayFault = serde_json::from_str(r#"{"ms":200,"for_ms":10000}"#).unwrap();
        assert_eq!(delay.for_ms, 10000);
    }
}
