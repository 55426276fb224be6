//! The life of one replica, in the three steps [`crate::run`] takes: [`set_up`] everything the
//! tasks need (configuration, store, hold, NATS, the stream and the bucket), [`spawn`] the tasks,
//! then supervise them until shutdown or until one ends, and drain them in an order that hands
//! the leadership over first.
//!
//! Kept apart from the crate root so that the order of these steps reads in one place and the
//! root only lists the modules.

mod drain;
mod setup;
mod spawn;
mod task;

pub(crate) use setup::set_up;
pub(crate) use spawn::spawn;

use crate::hold::HoldError;
use crate::store::StoreError;
use std::path::PathBuf;

/// Why a replica could not start, or stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The flags contradict each other (e.g. an id above the replica count): fix them.
    #[error("invalid configuration")]
    Config(#[from] crate::config::ConfigError),
    /// The store file could not be opened or its digest read.
    #[error("cannot open the order store at {}", path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: StoreError,
    },
    /// A blocking store call panicked or was cancelled.
    #[error("a blocking order store call did not finish")]
    StoreTask(#[from] tokio::task::JoinError),
    /// The hold file beside the store cannot be read: fix or remove it by hand.
    #[error("cannot load the hold")]
    Hold(#[from] HoldError),
    /// NATS could not even start connecting (bad URL or credentials).
    #[error("cannot connect to NATS")]
    Connect(#[from] bazaar_nats::ConnectionError),
    /// The operator's admin subjects could not be subscribed to.
    #[error("cannot subscribe to the admin subjects")]
    Admin(#[source] async_nats::SubscribeError),
    /// The replica's own subjects could not be subscribed to.
    #[error("cannot subscribe to the order subjects")]
    Subscribe(#[from] crate::handlers::SubscribeError),
    /// A task ended before shutdown was asked for; the replica drained and stopped.
    #[error("the {task} task ended before shutdown: {why}")]
    TaskEnded {
        /// Which task.
        task: &'static str,
        /// How it ended.
        why: String,
    },
}
