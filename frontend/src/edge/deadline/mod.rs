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

mod counting_io;
mod in_flight;
#[cfg(test)]
mod tests;

pub(crate) use counting_io::CountingIo;
pub(crate) use in_flight::{InFlight, InFlightBody};

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
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
        InFlight::new(Arc::clone(self))
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
