//! The one error type of the HTTP layer and how each kind becomes a response.
//!
//! Every error body is `{"error": {"code": <status>, "message": "<sentence>"}}`. Caller mistakes
//! (4xx) carry a message meant for the caller and are logged at debug only; an internal fault is
//! logged once, in full, at error level and answered with an opaque 500. Replies from the bus are
//! mapped to statuses here and nowhere else ([`From<BusError>`]).

use crate::bus::BusError;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of every error response: `{"error": {"code": <status>, "message": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": 409, "message": "not enough shares of GameStart: 3 available, 5 requested"}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub code: u16,
    /// A sentence for the person who sent the request (for a 500: only "internal server
    /// error").
    pub message: String,
}

impl ErrorBody {
    /// The body for `status` with `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: status.as_u16(),
                message: message.into(),
            },
        }
    }
}

/// Everything a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request was malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The thing asked for does not exist, or no route matched (404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Well formed but cannot be carried out, e.g. too few shares (409).
    #[error("{0}")]
    Conflict(String),
    /// The `Idempotency-Key` was first used for a different order (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is larger than the frontend accepts (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The client's address is over its request rate (429, `Retry-After` in whole seconds).
    #[error("too many requests from this address; retry in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until the address may send again.
        retry_after_secs: u64,
    },
    /// No leader or catalog answered within the retry budget (503, `Retry-After: 1`).
    #[error("{0}")]
    Unavailable(String),
    /// A fault on our side (500); the text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after_secs } => {
                Some(HeaderValue::from(*retry_after_secs))
            }
            Self::Unavailable(_) => Some(HeaderValue::from_static("1")),
            _ => None,
        };
        let message = match &self {
            Self::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "internal server error".to_string()
            }
            // The bus already warned, with the reason, when it gave up.
            Self::Unavailable(why) => {
                tracing::debug!(reason = %why, "answering 503");
                why.clone()
            }
            other => {
                tracing::debug!(status = status.as_u16(), message = %other, "client error");
                other.to_string()
            }
        };
        let mut response = (status, Json(ErrorBody::new(status, message))).into_response();
        if let Some(retry_after) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after);
        }
        response
    }
}

impl From<BusError> for AppError {
    /// `not_found` -> 404, `rejected` -> 409, `key_reused` -> 422, `invalid` -> 400,
    /// out of budget -> 503,
    /// `error` or a garbled reply -> 500. Handlers may reword `NotFound` for their resource.
    fn from(e: BusError) -> Self {
        match e {
            BusError::NotFound(m) => Self::NotFound(m),
            BusError::Rejected(m) => Self::Conflict(m),
            BusError::KeyReused(m) => Self::Unprocessable(m),
            BusError::Invalid(m) => Self::BadRequest(m),
            BusError::Unavailable(m) => Self::Unavailable(m),
            BusError::Internal(m) => Self::Internal(m),
        }
    }
}

impl From<BytesRejection> for AppError {
    /// A body over the limit becomes our JSON 413 rather than axum's plain-text one.
    fn from(rejection: BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge(format!(
                "request body is larger than {} bytes",
                crate::http::MAX_BODY_BYTES
            )),
            s if s.is_client_error() => Self::BadRequest(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            )),
            _ => Self::Internal(format!(
                "reading the request body: {}",
                rejection.body_text()
            )),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(rejection: PathRejection) -> Self {
        if rejection.status().is_server_error() {
            Self::Internal(format!("path extraction: {}", rejection.body_text()))
        } else {
            Self::BadRequest(format!("invalid path: {}", rejection.body_text()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_carries_retry_after_and_json_body() {
        let response = AppError::Unavailable("no order leader".into()).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn too_many_requests_says_when_to_retry_in_the_json_error_body() {
        let response = AppError::TooManyRequests {
            retry_after_secs: 3,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn bus_replies_map_to_their_statuses() {
        let cases = [
            (BusError::NotFound("x".into()), 404),
            (BusError::Rejected("x".into()), 409),
            (BusError::KeyReused("x".into()), 422),
            (BusError::Invalid("x".into()), 400),
            (BusError::Unavailable("x".into()), 503),
            (BusError::Internal("x".into()), 500),
        ];
        for (bus, code) in cases {
            assert_eq!(AppError::from(bus).status().as_u16(), code);
        }
    }
}
