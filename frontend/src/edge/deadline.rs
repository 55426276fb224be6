//! How long one connection may go without a request in flight, and the watchdog that says when
//! that time is up.
//!
//! hyper's own `header_read_timeout` starts its clock whenever the connection waits for a head,
//! including the wait of a kept-alive connection for its next request, so it cannot tell a
//! client that is slow to send a head from one that is idle between requests. This module keeps
//! the two apart, as two deadlines:
//! - a head being read (a new connection from accept, a kept-alive one from the first byte of its
//!   next request) must be complete within the header-read timeout;
//! - a kept-alive connection with no request in flight and no byte of a next one must see that
//!   byte within the idle timeout.
//!
//! A request is in flight from the moment it is handed to the router until its answer's body has
//! been sent or dropped ([`InFlightBody`]), so a long-lived answer such as an event stream is in
//! flight for as long as it runs. While a request is in flight the only deadline is a stalled
//! write: a client that takes no byte of its answer for the idle timeout (it stopped reading) is
//! closed, so it cannot hold its connection forever. The router's timeout layer bounds the wait
//! for an answer.
//!
//! [`ConnectionClock`] holds the state, [`CountingIo`] tells it when bytes arrive and when writes
//! stall, and [`Watchdog`] resolves when the deadline has passed, upon which the connection is
//! dropped. An answer still being written when the idle deadline passes (a client that stopped
//! reading) is dropped with it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The two timeouts of a connection; `None` turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Time to send a complete request head.
    pub(crate) header_read: Option<Duration>,
    /// Time a kept-alive connection may wait for its next request.
    pub(crate) idle: Option<Duration>,
}

/// Where one connection is between requests.
#[derive(Debug)]
struct Phase {
    /// Requests handed to the router whose handler has not finished.
    in_flight: usize,
    /// When the connection last had no request in flight (or was accepted).
    waiting_since: Instant,
    /// When the head now being read began: accept for the first request, then its first byte.
    head_started: Option<Instant>,
    /// Whether any request has been handed to the router.
    served_any: bool,
    /// Since when the socket has refused to take more bytes of an answer, if it does now.
    write_stalled_since: Option<Instant>,
}

/// The deadline state of one connection, shared by its socket wrapper and its request futures.
///
/// Both run on the connection's own task, so the lock is never contended; it is never held
/// across an `.await`.
#[derive(Debug)]
pub(crate) struct ConnectionClock {
    timeouts: Timeouts,
    phase: Mutex<Phase>,
}

impl ConnectionClock {
    /// A clock for a connection accepted now: its first head is being read from this instant.
    pub(crate) fn start(timeouts: Timeouts) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self {
            timeouts,
            phase: Mutex::new(Phase {
                in_flight: 0,
                waiting_since: now,
                head_started: Some(now),
                served_any: false,
                write_stalled_since: None,
            }),
        })
    }

    /// Marks a request as handed to the router; the returned guard marks it finished when
    /// dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        let mut phase = self.lock();
        phase.in_flight += 1;
        phase.head_started = None;
        phase.served_any = true;
        InFlight {
            clock: Arc::clone(self),
        }
    }

    /// Whether no request has been handed to the router yet: then nothing is owed to the client
    /// (not even part of an answer), and the connection can be dropped as it is.
    pub(crate) fn never_served(&self) -> bool {
        !self.lock().served_any
    }

    /// The instant this connection is closed at if nothing changes, or `None`.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let phase = self.lock();
        if phase.in_flight > 0 {
            let idle = self.timeouts.idle?;
            return phase.write_stalled_since.map(|since| since + idle);
        }
        match phase.head_started {
            Some(started) => self.timeouts.header_read.map(|limit| started + limit),
            None => self.timeouts.idle.map(|limit| phase.waiting_since + limit),
        }
    }

    /// Notes that bytes arrived. Between requests, the first byte starts the head's clock.
    ///
    /// NOTE: the rest of a request body that its handler did not read also counts as a first
    /// byte, so such a connection then gets the shorter header-read timeout while idle.
    fn bytes_arrived(&self) {
        let mut phase = self.lock();
        if phase.in_flight == 0 && phase.head_started.is_none() {
            phase.head_started = Some(Instant::now());
        }
    }

    /// Notes whether the socket just refused bytes of an answer (`true`) or took some.
    fn write_stalled(&self, stalled: bool) {
        let mut phase = self.lock();
        phase.write_stalled_since = match (stalled, phase.write_stalled_since) {
            (true, None) => Some(Instant::now()),
            (true, since) => since,
            (false, _) => None,
        };
    }

    fn request_finished(&self) {
        let mut phase = self.lock();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.waiting_since = Instant::now();
            phase.head_started = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        // The phase is plain data, consistent after every statement: a panic elsewhere cannot
        // leave it half-updated.
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request in flight on its connection; dropping it (when the handler has answered, or its
/// future is dropped) starts the idle clock.
#[derive(Debug)]
pub(crate) struct InFlight {
    clock: Arc<ConnectionClock>,
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

/// Resolves once its connection's deadline has passed; poll it after every poll of the
/// connection, which is where the deadline moves.
#[derive(Debug)]
pub(crate) struct Watchdog {
    clock: Arc<ConnectionClock>,
    /// Armed at the current deadline; wakes the task when it passes.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Watchdog {
    /// Watches the deadline of `clock`.
    pub(crate) fn new(clock: Arc<ConnectionClock>) -> Self {
        Self { clock, timer: None }
    }
}

impl Future for Watchdog {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(deadline) = this.clock.deadline() else {
            // Nothing to time: the next poll of the connection may start a deadline.
            return Poll::Pending;
        };
        let timer = match &mut this.timer {
            Some(timer) => {
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                timer
            }
            None => this
                .timer
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        timer.as_mut().poll(cx)
    }
}

/// A socket that tells its connection's clock when bytes arrive and when writes stall.
#[derive(Debug)]
pub(crate) struct CountingIo<T> {
    inner: T,
    clock: Arc<ConnectionClock>,
    /// Whether the last write was refused; the clock is told only when this changes.
    stalled: bool,
}

impl<T> CountingIo<T> {
    /// Wraps `inner`, reporting to `clock`.
    pub(crate) fn new(inner: T, clock: Arc<ConnectionClock>) -> Self {
        Self {
            inner,
            clock,
            stalled: false,
        }
    }

    fn note_write<R>(&mut self, written: &Poll<R>) {
        let stalled = written.is_pending();
        if stalled != self.stalled {
            self.stalled = stalled;
            self.clock.write_stalled(stalled);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.note_write(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note_write(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    fn clock() -> Arc<ConnectionClock> {
        ConnectionClock::start(Timeouts {
            header_read: Some(HEADER),
            idle: Some(IDLE),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_from_accept() {
        let accepted = Instant::now();
        let clock = clock();
        tokio::time::advance(Duration::from_secs(3)).await;
        clock.bytes_arrived();
        assert_eq!(clock.deadline(), Some(accepted + HEADER));
    }

    #[tokio::test(start_paused = true)]
    async fn no_deadline_while_a_request_is_in_flight() {
        let clock = clock();
        assert!(clock.never_served());
        let request = clock.request_started();
        assert!(!clock.never_served());
        assert_eq!(clock.deadline(), None);
        clock.bytes_arrived();
        assert_eq!(clock.deadline(), None);
        drop(request);
        assert!(clock.deadline().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_the_idle_timeout_runs_until_the_first_byte() {
        let clock = clock();
        drop(clock.request_started());
        let answered = Instant::now();
        assert_eq!(clock.deadline(), Some(answered + IDLE));

        tokio::time::advance(Duration::from_secs(30)).await;
        let first_byte = Instant::now();
        clock.bytes_arrived();
        assert_eq!(clock.deadline(), Some(first_byte + HEADER));
        // Later bytes of the same head do not extend it.
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.bytes_arrived();
        assert_eq!(clock.deadline(), Some(first_byte + HEADER));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_whose_writes_stall_gets_the_idle_timeout() {
        let clock = clock();
        let _streaming = clock.request_started();
        assert_eq!(clock.deadline(), None);
        tokio::time::advance(Duration::from_secs(5)).await;
        let stalled = Instant::now();
        clock.write_stalled(true);
        tokio::time::advance(Duration::from_secs(5)).await;
        clock.write_stalled(true);
        assert_eq!(clock.deadline(), Some(stalled + IDLE));
        clock.write_stalled(false);
        assert_eq!(clock.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_body_keeps_its_request_in_flight_until_dropped() {
        let clock = clock();
        let body = InFlightBody::new(axum::body::Body::from("streaming"), clock.request_started());
        assert_eq!(clock.deadline(), None);
        drop(body);
        assert_eq!(clock.deadline(), Some(Instant::now() + IDLE));
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_that_are_off_give_no_deadline() {
        let clock = ConnectionClock::start(Timeouts {
            header_read: None,
            idle: None,
        });
        assert_eq!(clock.deadline(), None);
        drop(clock.request_started());
        assert_eq!(clock.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_read_through_the_socket_start_the_head_clock() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let clock = clock();
        drop(clock.request_started());
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = CountingIo::new(server, Arc::clone(&clock));
        tokio::time::advance(Duration::from_secs(2)).await;
        client.write_all(b"G").await.unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(io.read(&mut byte).await.unwrap(), 1);
        assert_eq!(clock.deadline(), Some(Instant::now() + HEADER));
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_fires_at_the_deadline_and_follows_it_when_it_moves() {
        let clock = clock();
        drop(clock.request_started());
        let answered = Instant::now();
        let mut watchdog = Box::pin(Watchdog::new(Arc::clone(&clock)));
        assert!(futures::poll!(watchdog.as_mut()).is_pending());
        tokio::time::advance(Duration::from_secs(50)).await;
        clock.bytes_arrived();
        // Paused time jumps to the armed timer once nothing else can run.
        watchdog.as_mut().await;
        assert_eq!(Instant::now(), answered + Duration::from_secs(50) + HEADER);
    }
}
