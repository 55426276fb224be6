//! The sequencer's last step: what a run's outcome means for each trade of the batch.
//!
//! Trades already logged and those that landed are answered (with `NotLeader` for what landed
//! after the lease lapsed, since the caller cannot know the order stands); the rest are kept
//! for another attempt, or told to retry once they have had [`MAX_ATTEMPTS`]. Every key now
//! known to be in the log is returned, for the catalog.

use super::plan::Plan;
use super::term::Term;
use super::{Pending, SequencerTask, TradeOutcome};
use crate::log_append::{AppendError, RunOutcome};
use crate::store::Logged;
use bazaar_nats::messages::{encode, ConfirmLogged, OrderRecord};
use bazaar_nats::subjects::TRADES_CONFIRM;
use bazaar_nats::IdempotencyKey;
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

/// Rounds an append may fail before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 3;
/// Above this many remembered keys, those the store already holds are forgotten.
const RECENT_PRUNE_AT: usize = 50_000;

impl SequencerTask {
    /// Moves the term past what landed, answers every trade of the plan, and keeps the term
    /// unless the run failed (a failed run leaves the stream's tail unknown, so the next batch
    /// starts the term again). Returns every key now known to be logged.
    pub(super) fn settle(
        &mut self,
        mut term: Term,
        plan: Plan<oneshot::Sender<TradeOutcome>>,
        outcome: RunOutcome,
    ) -> Vec<IdempotencyKey> {
        let first_new = term.next;
        term.tail = outcome.tail;
        term.next += outcome.landed as u64;
        self.next_number.store(term.next, Ordering::Release);
        let leading = self.lease.valid_epoch() == Some(term.epoch);
        let mut confirmed = Vec::with_capacity(plan.logged.len() + outcome.landed);
        for (p, number) in plan.logged {
            confirmed.push(p.trade.key.clone());
            let _ = p.reply.send(TradeOutcome::Logged(number));
        }
        let why = match &outcome.error {
            Some(error) => self.report(error, plan.new.len() - outcome.landed),
            None => String::new(),
        };
        let mut new = plan.records.into_iter().zip(plan.new);
        for (record, p) in new.by_ref().take(outcome.landed) {
            let _ = p.reply.send(if leading {
                TradeOutcome::Logged(record.number)
            } else {
                TradeOutcome::NotLeader
            });
            confirmed.push(remember(&mut term, record));
        }
        for (_, p) in new {
            self.retry_later(p, &why);
        }
        let landed_below = first_new + outcome.landed as u64;
        for (p, number) in plan.twins {
            if number < landed_below && leading {
                let _ = p.reply.send(TradeOutcome::Logged(number));
            } else {
                self.retry_later(p, "its twin was not logged");
            }
        }
        for p in plan.later {
            self.retry_later(p, "another application of its key is being logged");
        }
        self.prune(&mut term);
        if outcome.error.is_none() {
            self.term = Some(term);
        }
        confirmed
    }

    /// Forgets the term's remembered keys the store holds, once there are many.
    fn prune(&self, term: &mut Term) {
        if term.recent.len() > RECENT_PRUNE_AT {
            let stored = self.stored.borrow().count;
            term.recent.retain(|_, logged| logged.number >= stored);
        }
    }

    /// Logs why a run did not land whole; returns the reason for the callers.
    fn report(&self, error: &AppendError, left: usize) -> String {
        if error.is_fenced() {
            metrics::counter!(crate::metrics::APPENDS_FENCED).increment(1);
            tracing::warn!(
                orders = left,
                "order log append refused: another leader appended"
            );
        } else {
            tracing::warn!(error = %error, orders = left, "order log append failed");
        }
        error.to_string()
    }

    /// Keeps `p` for another attempt, or tells its caller to retry (with `why`) once it has had
    /// [`MAX_ATTEMPTS`].
    pub(super) fn retry_later(&mut self, mut p: Pending, why: &str) {
        p.attempts += 1;
        if p.attempts >= MAX_ATTEMPTS {
            let _ = p.reply.send(TradeOutcome::Unavailable(why.to_string()));
        } else {
            self.carry.push_back(p);
        }
    }

    /// Tells the catalog these keys are in the log (a publish: a lost confirm is repeated by
    /// the roll-forward).
    pub(super) async fn confirm(&self, keys: Vec<IdempotencyKey>) {
        if keys.is_empty() {
            return;
        }
        let payload = encode(&ConfirmLogged { keys });
        if let Err(e) = self.client.publish(TRADES_CONFIRM, payload).await {
            tracing::debug!(error = %e, "could not confirm logged trades to the catalog");
        }
    }
}

/// Remembers a landed order in its term, so a retry of its key finds it before the store
/// holds it; returns its key.
fn remember(term: &mut Term, record: OrderRecord) -> IdempotencyKey {
    let logged = Logged {
        number: record.number,
        version: record.version,
    };
    term.recent.insert(record.key.as_str().to_string(), logged);
    record.key
}
