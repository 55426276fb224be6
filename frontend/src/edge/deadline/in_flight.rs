//! Keeping a request in flight on its connection until its answer has been sent or dropped, so
//! that no deadline but a stalled write runs meanwhile.

use super::ConnectionClock;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A request in flight on its connection; dropping it (when the handler has answered, or its
/// future is dropped) starts the idle clock.
#[derive(Debug)]
pub(crate) struct InFlight {
    clock: Arc<ConnectionClock>,
}

impl InFlight {
    /// Holds a request in flight on the connection `clock` times.
    pub(super) fn new(clock: Arc<ConnectionClock>) -> Self {
        Self { clock }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.clock.request_finished();
    }
}

/// A response body that keeps its request in flight until the body has been sent or dropped.
#[derive(Debug)]
pub(crate) struct InFlightBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl InFlightBody {
    /// `inner`, holding `in_flight` for as long as it lives.
    pub(crate) fn new(inner: axum::body::Body, in_flight: InFlight) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl hyper::body::Body for InFlightBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
