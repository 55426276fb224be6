//! This replica's request-reply subjects: trades (leader only), order queries and the digest.
//!
//! Each replica registers as one instance of the NATS micro service `order`, its three
//! per-replica subjects as endpoints. Only this replica subscribes to its subjects, so the
//! endpoints' queue group changes nothing about delivery. The fault gate holds requests while
//! the operator has paused the replica and delays replies while a delay is in force.

use crate::catalog_client::CatalogClient;
use crate::election::Lease;
use crate::sequencer::{Sequencer, TradeOutcome};
use crate::store::{Digest, OrderStore};
use async_nats::service::{endpoint, Request};
use bazaar_nats::fault::FaultGate;
use bazaar_nats::messages::{
    decode, DecodeError, Order, OrderQuery, ReplicaDigest, Reply, TradeReceipt, TradeRequest,
};
use bazaar_nats::micro::{self, ErrorReplies, Micro, MicroError};
use bazaar_nats::subjects::{order_digest, order_get, order_trade, SERVICE_ORDER};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Which of the replica's subjects a request came on.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Trade,
    Get,
    Digest,
}

/// How long the leader waits for an order it logged to reach its own store.
const STORE_WAIT: Duration = Duration::from_secs(2);

/// Why the replica's subjects could not be served: it must not campaign without them.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// The micro service could not be registered.
    #[error(transparent)]
    Service(#[from] MicroError),
    /// One endpoint could not be added.
    #[error("cannot add the {endpoint} endpoint: {source}")]
    Endpoint {
        /// The endpoint's name.
        endpoint: &'static str,
        /// What the library said.
        #[source]
        source: async_nats::Error,
    },
}

/// The replica's micro service and its endpoints, made before it may campaign.
pub struct Subscriptions {
    micro: Micro,
    trades: endpoint::Endpoint,
    gets: endpoint::Endpoint,
    digests: endpoint::Endpoint,
}

impl std::fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriptions")
            .field("service", &self.micro.service)
            .finish_non_exhaustive()
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Handlers {
    /// The NATS client replies go out on.
    pub client: async_nats::Client,
    /// This replica's election state.
    pub lease: Arc<Lease>,
    /// The leader's log writer.
    pub sequencer: Sequencer,
    /// The catalog.
    pub catalog: CatalogClient,
    /// This replica's store.
    pub store: OrderStore,
    /// How far the store got.
    pub stored: watch::Receiver<Digest>,
    /// Pauses and reply delays injected by the operator.
    pub gate: FaultGate,
    /// Failed replies, for the micro service's stats (set by [`Handlers::subscribe`]).
    pub errors: ErrorReplies,
}

impl Handlers {
    /// Registers this replica's micro service instance and subscribes to its subjects.
    ///
    /// # Errors
    /// [`SubscribeError`] when the service or an endpoint cannot be registered.
    pub async fn subscribe(&mut self) -> Result<Subscriptions, SubscribeError> {
        let id = self.lease.id();
        let metadata = [("replica".to_string(), id.to_string())].into();
        let micro = micro::start(
            &self.client,
            SERVICE_ORDER,
            env!("CARGO_PKG_VERSION"),
            "Stock Bazaar order replica: trades, order queries, digest",
            &format!("order-{id}"),
            metadata,
        )
        .await?;
        self.errors = micro.errors.clone();
        let add = |endpoint: &'static str, subject: String| {
            let builder = micro.service.endpoint_builder().name(endpoint);
            async move {
                builder
                    .add(subject)
                    .await
                    .map_err(|source| SubscribeError::Endpoint { endpoint, source })
            }
        };
        let trades = add("trade", order_trade(id)).await?;
        let gets = add("get", order_get(id)).await?;
        let digests = add("digest", order_digest(id)).await?;
        Ok(Subscriptions {
            micro,
            trades,
            gets,
            digests,
        })
    }

    /// Serves the subscriptions until `stop`; returns once every subscription is closed. Each
    /// request is answered on a task of its own, so a slow catalog holds up no other request.
    pub async fn serve(self, subscriptions: Subscriptions, stop: CancellationToken) {
        let Subscriptions {
            micro,
            mut trades,
            mut gets,
            mut digests,
        } = subscriptions;
        loop {
            // A paused replica takes no request off its subscriptions, as a frozen process.
            self.gate.pass().await;
            tokio::select! {
                () = stop.cancelled() => break,
                Some(r) = trades.next() => self.spawn_answer(r, Endpoint::Trade),
                Some(r) = gets.next() => self.spawn_answer(r, Endpoint::Get),
                Some(r) = digests.next() => self.spawn_answer(r, Endpoint::Digest),
                else => break,
            }
        }
        let _ = trades.stop().await;
        let _ = gets.stop().await;
        let _ = digests.stop().await;
        let _ = micro.service.stop().await;
    }

    /// Answers `request` on `endpoint` on a task of its own.
    fn spawn_answer(&self, request: Request, endpoint: Endpoint) {
        let handlers = self.clone();
        let answer = async move {
            let message = &request.message;
            match endpoint {
                Endpoint::Trade => {
                    let reply = handlers.trade(message).await;
                    handlers.respond(&request, "trade", &reply).await;
                }
                Endpoint::Get => {
                    let reply = handlers.get(message).await;
                    handlers.respond(&request, "get", &reply).await;
                }
                Endpoint::Digest => {
                    let reply = handlers.digest().await;
                    handlers.respond(&request, "digest", &reply).await;
                }
            }
        };
        tokio::spawn(answer.in_current_span());
    }

    async fn respond<T: Serialize>(&self, request: &Request, endpoint: &str, reply: &Reply<T>) {
        if request.message.reply.is_none() {
            tracing::debug!(subject = %request.message.subject, "request without a reply subject");
            return;
        }
        self.gate.before_reply().await;
        if let Err(e) = micro::respond(request, endpoint, reply, &self.errors).await {
            tracing::warn!(error = %e, "could not send a reply");
        }
    }

    /// Applies a trade in the catalog, then logs it.
    async fn trade(&self, message: &async_nats::Message) -> Reply<TradeReceipt> {
        let trade: TradeRequest = match decode(&message.payload) {
            Ok(t) => t,
            Err(e) => return invalid(message, e),
        };
        if self.lease.valid_epoch().is_none() {
            return Reply::NotLeader {
                leader: self.lease.known_leader(),
            };
        }
        let span = tracing::debug_span!("trade", key = %trade.key, name = %trade.name);
        async {
            let version = match self.catalog.apply(&trade).await {
                Reply::Ok { data } => data.version,
                Reply::KeyReused { message } => return Reply::KeyReused { message },
                Reply::NotFound { message } => return Reply::NotFound { message },
                Reply::Rejected { message } => return Reply::Rejected { message },
                Reply::Invalid { message } => return Reply::Invalid { message },
                Reply::Error { message } | Reply::Unavailable { message } => {
                    tracing::warn!(%message, "catalog could not apply the trade");
                    return Reply::unavailable(message);
                }
                Reply::NotLeader { .. } => return Reply::unavailable("catalog answered oddly"),
            };
            match self.sequencer.append(trade, version).await {
                TradeOutcome::Logged(number) => {
                    tracing::debug!(number, "trade logged");
                    Reply::ok(TradeReceipt {
                        transaction_number: number,
                    })
                }
                TradeOutcome::NotLeader => Reply::NotLeader {
                    leader: self.lease.known_leader(),
                },
                TradeOutcome::Unavailable(why) => Reply::unavailable(why),
            }
        }
        .instrument(span)
        .await
    }

    /// Looks an order up in this replica's store. The leader first waits, briefly, for an order
    /// it logged but has not stored yet, so a client reads its own trade at once.
    async fn get(&self, message: &async_nats::Message) -> Reply<Order> {
        let query: OrderQuery = match decode(&message.payload) {
            Ok(q) => q,
            Err(e) => return invalid(message, e),
        };
        let number = query.number;
        if number >= self.stored.borrow().count
            && number < self.sequencer.next_number()
            && self.lease.valid_epoch().is_some()
        {
            let mut stored = self.stored.clone();
            let waited =
                tokio::time::timeout(STORE_WAIT, stored.wait_for(|d| d.count > number)).await;
            if waited.is_err() {
                return Reply::unavailable("the order is logged but not stored yet");
            }
        }
        let store = self.store.clone();
        match bazaar_nats::blocking::run(move || store.get(number)).await {
            Ok(Ok(Some(order))) => Reply::ok(order),
            Ok(Ok(None)) => Reply::not_found("order not found"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, number, "order lookup failed");
                Reply::error("order store failed")
            }
            Err(e) => {
                tracing::error!(error = %e, "order lookup task failed");
                Reply::error("order store failed")
            }
        }
    }

    /// Summarises this replica's history.
    async fn digest(&self) -> Reply<ReplicaDigest> {
        let store = self.store.clone();
        match bazaar_nats::blocking::run(move || store.digest()).await {
            Ok(Ok(d)) => Reply::ok(ReplicaDigest {
                replica: self.lease.id(),
                count: d.count,
                hash: format!("{:016x}", d.hash),
                sequence: d.sequence,
                leader: self.lease.valid_epoch().is_some(),
            }),
            Ok(Err(e)) => Reply::error(e.to_string()),
            Err(e) => Reply::error(e.to_string()),
        }
    }
}

/// Logs a request that does not parse and answers it `invalid`, with what was wrong.
fn invalid<T>(message: &async_nats::Message, error: DecodeError) -> Reply<T> {
    let shown = &message.payload[..message.payload.len().min(200)];
    tracing::warn!(
        subject = %message.subject,
        payload = %String::from_utf8_lossy(shown),
        %error,
        "bad request on NATS"
    );
    Reply::invalid(error.to_string())
}
