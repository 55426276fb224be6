//! Create-if-missing setup of the JetStream objects the services share.
//!
//! Every service calls these at start (and again after a broker restart wiped an in-memory
//! setup), so whichever starts first creates them and the others find them. Each looks the
//! object up first and creates it only when the broker says it does not exist: on a bus with
//! authentication (nats/conf/auth.conf) only the operator may create, update or delete streams
//! and buckets, so there the setup step (`bazaar-setup`, run as the operator at deploy time)
//! creates them and the services only ever find them.

use crate::subjects::{LEADER_BUCKET, ORDERS_NEW, ORDERS_STREAM, ORDERS_TERM};
use async_nats::jetstream::context::{GetStreamError, GetStreamErrorKind, KeyValueError};
use async_nats::jetstream::{self, kv, stream};
use std::time::Duration;

/// How long a leader's lease lasts without renewal. The KV bucket expires the key this long after
/// its last write, so a dead leader is replaced after about this long.
pub const LEADER_LEASE: Duration = Duration::from_millis(1000);

/// How far back JetStream drops a repeated `Nats-Msg-Id` on the order log.
pub const ORDERS_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Error from setting up a stream or bucket.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The order stream could not be looked up (JetStream refused or did not answer).
    #[error("cannot set up the {ORDERS_STREAM} stream: {0}")]
    Stream(#[source] GetStreamError),
    /// The leader bucket's stream could not be looked up.
    #[error("cannot set up the {LEADER_BUCKET} bucket: {0}")]
    BucketStream(#[source] GetStreamError),
    /// The leader bucket exists but could not be opened.
    #[error("cannot set up the {LEADER_BUCKET} bucket: {0}")]
    Bucket(#[source] KeyValueError),
    /// The object does not exist and creating (or updating) it failed: on a bus with
    /// authentication only the operator may, so the setup step has not run.
    #[error(
        "{what} does not exist and creating it failed: {source}; where the bus has \
         authentication on, only the operator may create or update it: run the setup step \
         (`bazaar-setup` as the operator) first"
    )]
    NeedsSetup {
        /// What could not be made, e.g. "the ORDERS stream".
        what: String,
        /// The broker's or the client's answer to the create.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// `object` is missing and could not be made.
fn missing(
    object: String,
    create_error: impl std::error::Error + Send + Sync + 'static,
) -> SetupError {
    SetupError::NeedsSetup {
        what: object,
        source: Box::new(create_error),
    }
}

/// Whether `error` is the broker saying the stream does not exist (as opposed to a timeout or
/// a refused request, after which creating it would be a guess).
fn is_not_found(error: &GetStreamError) -> bool {
    matches!(
        error.kind(),
        GetStreamErrorKind::JetStream(e) if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// How many copies JetStream keeps of our stream and bucket: 1 on a single node, 3 on the
/// production cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replication(pub usize);

impl Default for Replication {
    fn default() -> Self {
        Self(1)
    }
}

/// Finds or creates the `ORDERS` stream: file storage, every message kept, deletes and
/// purges denied, `orders.new` and `orders.term`.
///
/// # Errors
/// [`SetupError::NeedsSetup`] when the stream is missing and this client may not create it;
/// [`SetupError::Stream`] when JetStream refuses or does not answer.
pub async fn ensure_orders_stream(
    js: &jetstream::Context,
    replication: Replication,
) -> Result<stream::Stream, SetupError> {
    let config = stream::Config {
        name: ORDERS_STREAM.to_string(),
        description: Some("Stock Bazaar order log: one message per accepted trade".into()),
        subjects: vec![ORDERS_NEW.to_string(), ORDERS_TERM.to_string()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: ORDERS_DUPLICATE_WINDOW,
        num_replicas: replication.0,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    };
    let found = match js.get_stream(ORDERS_STREAM).await {
        Ok(found) => found,
        Err(e) if is_not_found(&e) => create_orders_stream(js, config).await?,
        Err(e) => return Err(SetupError::Stream(e)),
    };
    Ok(found)
}

/// Creates the stream; when that fails, a concurrent creator may have won the race, so a stream
/// found afterwards counts as made.
async fn create_orders_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, SetupError> {
    match js.create_stream(config).await {
        Ok(made) => Ok(made),
        Err(create_error) => js
            .get_stream(ORDERS_STREAM)
            .await
            .map_err(|_| missing(format!("the {ORDERS_STREAM} stream"), create_error)),
    }
}

/// Finds or creates the `order_leader` KV bucket: one value per key, each expiring
/// [`LEADER_LEASE`] after its last write.
///
/// # Errors
/// [`SetupError::NeedsSetup`] when the bucket is missing and this client may not create it;
/// [`SetupError::BucketStream`] or [`SetupError::Bucket`] when JetStream refuses or does not
/// answer.
pub async fn ensure_leader_bucket(
    js: &jetstream::Context,
    replication: Replication,
) -> Result<kv::Store, SetupError> {
    let stream_name = format!("KV_{LEADER_BUCKET}");
    match js.get_stream(&stream_name).await {
        Ok(_) => {
            return js
                .get_key_value(LEADER_BUCKET)
                .await
                .map_err(SetupError::Bucket)
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(SetupError::BucketStream(e)),
    }
    // A concurrent creator may win the race; the get below then finds its bucket.
    let created = js
        .create_key_value(kv::Config {
            bucket: LEADER_BUCKET.to_string(),
            description: "Stock Bazaar order leader lease: key `leader` holds the replica id"
                .into(),
            history: 1,
            max_age: LEADER_LEASE,
            storage: jetstream::stream::StorageType::File,
            num_replicas: replication.0,
            ..Default::default()
        })
        .await;
    match created {
        Ok(store) => Ok(store),
        Err(create_error) => js
            .get_key_value(LEADER_BUCKET)
            .await
            .map_err(|_| missing(format!("the {LEADER_BUCKET} bucket"), create_error)),
    }
}
