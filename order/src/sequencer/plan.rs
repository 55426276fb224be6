//! The sequencer's first step, as a pure function: which waiting trades are already in the
//! log, which are new and get the next numbers, and which repeat a new one of the same batch.

use crate::store::Logged;
use bazaar_nats::messages::{OrderRecord, TradeRequest};
use std::collections::HashMap;

/// A trade waiting to be logged, with what its caller waits on.
#[derive(Debug)]
pub(crate) struct Waiting<R> {
    /// The trade as the catalog applied it.
    pub(crate) trade: TradeRequest,
    /// The stock version the catalog's application of it produced.
    pub(crate) version: u64,
    /// How often its append failed already.
    pub(crate) attempts: u32,
    /// Whoever waits for the answer.
    pub(crate) reply: R,
}

/// What to do with one batch of waiting trades.
#[derive(Debug)]
pub(crate) struct Plan<R> {
    /// Already in the log under this number: answer at once.
    pub(crate) logged: Vec<(Waiting<R>, u64)>,
    /// New orders numbered from the term's next number, in the order to append them.
    pub(crate) records: Vec<OrderRecord>,
    /// The trade behind each of [`Plan::records`], at the same index.
    pub(crate) new: Vec<Waiting<R>>,
    /// Repeats of a new order of this batch (same key, same application): answered with its
    /// number once it landed.
    pub(crate) twins: Vec<(Waiting<R>, u64)>,
    /// The same key with another application in this same batch: tried again later.
    pub(crate) later: Vec<Waiting<R>>,
}

/// Whether a key found in the log stands for this very application of the trade: the same
/// stock version (a record that carries no version, 0, matches on the key alone). A key
/// logged with another version was reused after the catalog forgot it: a new order.
pub(crate) fn is_same_application(logged: Logged, version: u64) -> bool {
    logged.version == version || logged.version == 0
}

/// Splits `batch` given, for each trade, where its key was found in the log (`known`, in the
/// same order), numbering new orders from `next`.
pub(crate) fn plan<R>(batch: Vec<Waiting<R>>, known: Vec<Option<Logged>>, next: u64) -> Plan<R> {
    let mut plan = Plan {
        logged: Vec::new(),
        records: Vec::new(),
        new: Vec::new(),
        twins: Vec::new(),
        later: Vec::new(),
    };
    let mut in_batch: HashMap<String, (u64, u64)> = HashMap::new();
    for (waiting, found) in batch.into_iter().zip(known) {
        if let Some(logged) = found.filter(|l| is_same_application(*l, waiting.version)) {
            plan.logged.push((waiting, logged.number));
            continue;
        }
        match in_batch.get(waiting.trade.key.as_str()) {
            Some(&(number, version)) if version == waiting.version => {
                plan.twins.push((waiting, number));
            }
            Some(_) => plan.later.push(waiting),
            None => {
                let number = next + plan.records.len() as u64;
                in_batch.insert(
                    waiting.trade.key.as_str().to_string(),
                    (number, waiting.version),
                );
                plan.records.push(record(&waiting, number));
                plan.new.push(waiting);
            }
        }
    }
    plan
}

/// The order record logged for `waiting` under `number`: exactly what the catalog applied.
fn record<R>(waiting: &Waiting<R>, number: u64) -> OrderRecord {
    OrderRecord {
        number,
        key: waiting.trade.key.clone(),
        name: waiting.trade.name.clone(),
        side: waiting.trade.side,
        quantity: waiting.trade.quantity,
        version: waiting.version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

    fn waiting(key: &str, version: u64) -> Waiting<&'static str> {
        Waiting {
            trade: TradeRequest {
                key: IdempotencyKey::parse(key).unwrap(),
                name: StockName::parse("FishCo").unwrap(),
                side: Side::Buy,
                quantity: Quantity::parse(1).unwrap(),
                minted: false,
            },
            version,
            attempts: 0,
            reply: "caller",
        }
    }

    fn logged(number: u64, version: u64) -> Option<Logged> {
        Some(Logged { number, version })
    }

    #[test]
    fn new_trades_get_consecutive_numbers_from_the_terms_next() {
        let plan = plan(vec![waiting("a", 2), waiting("b", 3)], vec![None, None], 7);
        let numbers: Vec<u64> = plan.records.iter().map(|r| r.number).collect();
        assert_eq!(numbers, vec![7, 8]);
        assert_eq!(plan.records[1].version, 3);
        assert_eq!(plan.new.len(), 2);
        assert!(plan.logged.is_empty() && plan.twins.is_empty() && plan.later.is_empty());
    }

    #[test]
    fn a_retry_of_a_logged_application_gets_its_number_back() {
        let plan = plan(vec![waiting("a", 5)], vec![logged(3, 5)], 9);
        assert_eq!(plan.logged.len(), 1);
        assert_eq!(plan.logged[0].1, 3);
        assert!(plan.new.is_empty() && plan.records.is_empty());
    }

    #[test]
    fn a_key_logged_for_another_application_is_a_new_order() {
        let plan = plan(vec![waiting("a", 8)], vec![logged(3, 5)], 9);
        assert!(plan.logged.is_empty());
        assert_eq!(plan.records[0].number, 9);
    }

    #[test]
    fn a_record_without_a_version_matches_on_the_key() {
        let plan = plan(vec![waiting("a", 8)], vec![logged(3, 0)], 9);
        assert_eq!(plan.logged[0].1, 3);
    }

    #[test]
    fn repeats_within_a_batch_share_the_first_ones_number() {
        let plan = plan(
            vec![
                waiting("a", 4),
                waiting("b", 5),
                waiting("a", 4),
                waiting("a", 6),
            ],
            vec![None, None, None, None],
            0,
        );
        assert_eq!((plan.new.len(), plan.records.len()), (2, 2));
        assert_eq!(plan.twins.len(), 1);
        assert_eq!(plan.twins[0].1, 0);
        assert_eq!(
            plan.later.len(),
            1,
            "the same key with another version waits"
        );
    }
}
