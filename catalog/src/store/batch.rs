//! The writer's one entry point into the file: a batch of trades, confirms and prunes in one
//! durable transaction, and what each of them did.

use super::{blocking, Store, StoreError};
use crate::keys::{Pruned, Tables};
use crate::trade::{StockState, TradeAnswer};
use bazaar_nats::messages::{Stock, TradeRequest};
use bazaar_nats::{IdempotencyKey, StockName};
use std::collections::BTreeMap;

/// One write for [`Store::write_batch`], processed in order within one transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Apply a trade at most once per key.
    Trade(TradeRequest),
    /// These keys are in the order log: stop reporting them as pending.
    Confirm(Vec<IdempotencyKey>),
    /// Forget the records of up to `limit` keys applied before `before_ms` (ms since the
    /// epoch), oldest first, except keys still unlogged.
    Prune {
        /// Records applied at or after this instant are kept.
        before_ms: u64,
        /// Most records looked at.
        limit: usize,
    },
}

/// What one [`WriteOp`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpAnswer {
    /// A trade's answer.
    Trade(TradeAnswer),
    /// A confirm: how many of its keys were still unlogged.
    Confirmed(usize),
    /// A prune.
    Pruned(Pruned),
}

impl OpAnswer {
    /// Whether the operation changed the file.
    fn wrote(&self) -> bool {
        match self {
            Self::Trade(answer) => matches!(answer, TradeAnswer::Recorded(_)),
            Self::Confirmed(forgotten) => *forgotten > 0,
            Self::Pruned(pruned) => pruned.removed > 0,
        }
    }
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// One entry per [`WriteOp`], in order.
    pub answers: Vec<OpAnswer>,
    /// Each stock the batch changed, with its latest version.
    pub changed: BTreeMap<StockName, u64>,
    /// Whether the batch was committed; a batch that changed nothing is not.
    pub committed: bool,
}

impl Store {
    /// Processes `ops` in order in ONE write transaction and commits it durably: a trade whose
    /// key is known gets its stored answer again (or `key_reused`, for another order); a new one
    /// is applied (or refused) and recorded under its key, and remembered as unlogged when
    /// applied; a confirm forgets its keys from the unlogged set; a prune forgets expired
    /// records. Nothing is applied unless the whole batch commits, and a batch that changed
    /// nothing (replays, reuses, refusals under minted keys) is not committed at all.
    ///
    /// # Errors
    /// [`StoreError`] when redb fails; the transaction is then dropped and nothing changed.
    pub async fn write_batch(
        &self,
        ops: Vec<WriteOp>,
        now_ms: u64,
    ) -> Result<BatchOutcome, StoreError> {
        let db = self.db.clone();
        let snapshot = self.stocks.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(StoreError::redb)?;
            let mut outcome = BatchOutcome::default();
            let mut after: BTreeMap<StockName, StockState> = BTreeMap::new();
            {
                let mut tables = Tables::open(&txn)?;
                for op in &ops {
                    let answer = match op {
                        WriteOp::Trade(request) => {
                            OpAnswer::Trade(tables.trade_once(request, now_ms, &mut after)?)
                        }
                        WriteOp::Confirm(keys) => OpAnswer::Confirmed(tables.confirm(keys)?),
                        WriteOp::Prune { before_ms, limit } => {
                            OpAnswer::Pruned(tables.prune(*before_ms, *limit)?)
                        }
                    };
                    outcome.answers.push(answer);
                }
            }
            outcome.committed = outcome.answers.iter().any(OpAnswer::wrote);
            if !outcome.committed {
                txn.abort().map_err(StoreError::redb)?;
                return Ok(outcome);
            }
            txn.commit().map_err(StoreError::redb)?;
            let mut stocks = snapshot
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, state) in after {
                outcome.changed.insert(name.clone(), state.version);
                stocks.insert(
                    name.clone(),
                    Stock {
                        name,
                        price: state.price,
                        quantity: state.quantity,
                        version: state.version,
                    },
                );
            }
            Ok(outcome)
        })
        .await
    }
}
