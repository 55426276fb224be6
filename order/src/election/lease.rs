//! The election's shared result: what this replica is (leader of a term, or follower of whom),
//! read by every request handler and the sequencer, and the stream of terms as they start and
//! end for the tasks that act only while leading.

use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// What this replica currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Another replica leads (or nobody, while the key is absent).
    Follower {
        /// The leader id last read from the key.
        leader: Option<u32>,
    },
    /// This replica holds the lease.
    Leader {
        /// The KV revision of the winning `create`: identifies this term.
        epoch: u64,
        /// After this instant the lease may have expired on the server: stop acting.
        until: Instant,
    },
}

/// The shared view of the election; read on every request, so reading is one uncontended lock.
#[derive(Debug)]
pub struct Lease {
    id: u32,
    role: Mutex<Role>,
    term: watch::Sender<Option<u64>>,
}

impl Lease {
    /// A lease cell for replica `id`, starting as a follower.
    pub fn new(id: u32) -> Arc<Self> {
        Arc::new(Self {
            id,
            role: Mutex::new(Role::Follower { leader: None }),
            term: watch::channel(None).0,
        })
    }

    /// This replica's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The current role.
    pub fn role(&self) -> Role {
        *self
            .role
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The epoch of the current term if this replica leads and its lease has not run out.
    pub fn valid_epoch(&self) -> Option<u64> {
        match self.role() {
            Role::Leader { epoch, until } if Instant::now() < until => Some(epoch),
            _ => None,
        }
    }

    /// The leader as this replica knows it: itself while leading. A follower whose own id is
    /// still in the key (it just stepped down) knows of no leader.
    pub fn known_leader(&self) -> Option<u32> {
        match self.role() {
            Role::Leader { .. } => Some(self.id),
            Role::Follower { leader } => leader.filter(|l| *l != self.id),
        }
    }

    /// Terms as they start (`Some(epoch)`) and end (`None`).
    pub fn terms(&self) -> watch::Receiver<Option<u64>> {
        self.term.subscribe()
    }

    /// Records `role` and, when it starts or ends a term, tells the term watchers.
    pub(super) fn set(&self, role: Role) {
        let term = match role {
            Role::Leader { epoch, .. } => Some(epoch),
            Role::Follower { .. } => None,
        };
        *self
            .role
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = role;
        self.term.send_if_modified(|t| {
            let changed = *t != term;
            *t = term;
            changed
        });
    }
}
