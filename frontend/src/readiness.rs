//! Whether this frontend can serve trades now: it knows an order leader and the catalog
//! answers. Behind `GET /readyz`, for load balancers and compose health checks.
//!
//! The leader key is read afresh (one KV get) and the catalog is asked one cheap question (a lookup, answered `ok` or `not_found` alike) with
//! a short timeout and no retry. The verdict is kept for [`FRESH_FOR`], and while one probe is
//! under way other callers get the last verdict, so however often `/readyz` is asked the
//! catalog sees at most about one probe per second from each frontend.

use crate::leader::LeaderTracker;
use async_nats::connection::State as ConnectionState;
use async_nats::{Client, Request};
use bazaar_nats::messages::{encode, StockLookup};
use bazaar_nats::subjects::STOCK_LOOKUP;
use bazaar_nats::StockName;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verdict is reused.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long the catalog may take to answer the probe.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// The name the probe looks up: any answer, found or not, shows the catalog serves.
const PROBE_STOCK: &str = "readiness-probe";

/// Why the frontend is not ready; the message is what `/readyz` answers with its 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// The NATS connection is down.
    #[error("not connected to NATS")]
    NoNats,
    /// No order replica holds the leader lease as far as this frontend knows.
    #[error("no order leader is known")]
    NoLeader,
    /// The catalog did not answer the probe in time.
    #[error("the catalog does not answer: {0}")]
    NoCatalog(String),
}

/// A verdict: the leader it saw, or why not ready.
pub type Verdict = Result<u32, NotReady>;

#[derive(Debug, Default)]
struct Last {
    verdict: Option<(Instant, Verdict)>,
    probing: bool,
}

/// Marks the probe as over when dropped, finished or not.
struct ProbeGuard<'a>(&'a Readiness);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().probing = false;
    }
}

/// The cached readiness check.
#[derive(Debug)]
pub struct Readiness {
    client: Client,
    leader: Arc<LeaderTracker>,
    last: Mutex<Last>,
}

impl Readiness {
    /// A check over `client`, reading the leader from `leader`.
    pub fn new(client: Client, leader: Arc<LeaderTracker>) -> Self {
        Self {
            client,
            leader,
            last: Mutex::new(Last::default()),
        }
    }

    /// The current verdict: the cached one while fresh (or while another caller probes), else a
    /// new probe.
    pub async fn check(&self) -> Verdict {
        {
            let mut last = self.lock();
            if let Some((at, verdict)) = &last.verdict {
                if at.elapsed() < FRESH_FOR || last.probing {
                    return verdict.clone();
                }
            }
            last.probing = true;
        }
        // Should this caller go away mid-probe, the guard lets the next one probe.
        let guard = ProbeGuard(self);
        let verdict = self.probe().await;
        self.lock().verdict = Some((Instant::now(), verdict.clone()));
        drop(guard);
        verdict
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Last> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn probe(&self) -> Verdict {
        if !matches!(self.client.connection_state(), ConnectionState::Connected) {
            return Err(NotReady::NoNats);
        }
        // Read the key itself: a lease that ran out with its holder (killed, not stopped)
        // leaves no watch event, so the watched value alone could name a dead leader.
        let Some(leader) = self.leader.refresh().await else {
            return Err(NotReady::NoLeader);
        };
        let name = StockName::parse(PROBE_STOCK).map_err(|e| NotReady::NoCatalog(e.to_string()))?;
        let request = Request::new()
            .payload(encode(&StockLookup { name }))
            .timeout(Some(PROBE_TIMEOUT));
        match self.client.send_request(STOCK_LOOKUP, request).await {
            Ok(_) => Ok(leader),
            Err(e) => Err(NotReady::NoCatalog(e.kind().to_string())),
        }
    }
}
