//! The trade rules, as pure functions over a stock, and the records the store keeps for them.
//!
//! Nothing here touches redb or NATS: [`apply_trade`] decides what a buy or sell does to one
//! stock, and [`AppliedRecord`] is what the catalog remembers about a key so that a retried trade
//! gets the same answer without being applied twice.

use bazaar_nats::messages::{Reply, TradeApplied, TradeRequest, UnloggedTrade};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use serde::{Deserialize, Serialize};

/// Message of a trade on a stock the catalog does not hold.
pub const STOCK_NOT_FOUND: &str = "stock not found";

/// What the catalog stores for one stock (the name is the key).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StockState {
    /// Price per share.
    pub price: f64,
    /// Shares available to buy.
    pub quantity: u64,
    /// Grows by one with every change; starts at 1 when the stock is seeded.
    pub version: u64,
}

/// Why a trade was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The trade is well formed but cannot be carried out (too few shares, overflow).
    Rejected(String),
    /// The stock does not exist.
    NotFound,
}

/// The answer a trade got, stored under its idempotency key and repeated to every retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// The trade changed the stock.
    Applied {
        /// Shares available right after this trade.
        quantity_after: u64,
        /// The stock's version right after this trade.
        version: u64,
    },
    /// The trade was refused; nothing changed.
    Rejected {
        /// Why, for the person who asked.
        message: String,
    },
    /// The stock did not exist; nothing changed.
    NotFound {
        /// What was not found.
        message: String,
    },
}

impl From<Refusal> for Outcome {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Rejected(message) => Self::Rejected { message },
            Refusal::NotFound => Self::NotFound {
                message: STOCK_NOT_FOUND.to_string(),
            },
        }
    }
}

/// Everything the catalog remembers about one idempotency key (the key is the table key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    /// The stock traded.
    pub name: StockName,
    /// Buy or sell.
    pub side: Side,
    /// How many shares were asked for.
    pub quantity: Quantity,
    /// The answer the trade got.
    pub outcome: Outcome,
    /// When the catalog first saw the key, in milliseconds since the Unix epoch.
    pub applied_at_unix_ms: u64,
}

impl AppliedRecord {
    /// The reply every request carrying this key gets.
    pub fn reply(&self) -> Reply<TradeApplied> {
        match &self.outcome {
            Outcome::Applied {
                quantity_after,
                version,
            } => Reply::ok(TradeApplied {
                name: self.name.clone(),
                quantity: *quantity_after,
                version: *version,
            }),
            Outcome::Rejected { message } => Reply::rejected(message.clone()),
            Outcome::NotFound { message } => Reply::not_found(message.clone()),
        }
    }

    /// The trade request this record answered, rebuilt for the order leader's roll-forward,
    /// with the stock version its application produced (`None` for a refused trade).
    pub fn unlogged(&self, key: IdempotencyKey) -> Option<UnloggedTrade> {
        let Outcome::Applied { version, .. } = self.outcome else {
            return None;
        };
        Some(UnloggedTrade {
            trade: TradeRequest {
                key,
                name: self.name.clone(),
                side: self.side,
                quantity: self.quantity,
                minted: false,
            },
            version,
        })
    }

    /// Whether `request` asks for the same trade this record answered.
    pub fn matches(&self, request: &TradeRequest) -> bool {
        self.name == request.name && self.side == request.side && self.quantity == request.quantity
    }

    /// The message of a `key_reused` answer: which order `key` was first used for.
    pub fn reuse_message(&self, key: &IdempotencyKey) -> String {
        format!(
            "Idempotency-Key {key} was first used for {} {} {}",
            self.side.as_str(),
            self.quantity.get(),
            self.name
        )
    }
}

/// What the catalog made of one trade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeAnswer {
    /// The key was new: the trade was applied or refused now, and recorded under its key.
    Recorded(AppliedRecord),
    /// The key was known for this same order: the answer it got the first time.
    Replayed(AppliedRecord),
    /// The trade was refused and, its key being minted by the frontend, not recorded: nobody
    /// but the frontend's own retries could send that key again.
    Unrecorded(AppliedRecord),
    /// The key was first used for another order (`first`): nothing was applied or recorded.
    KeyReused {
        /// The key.
        key: IdempotencyKey,
        /// What the catalog remembers of the key's first use.
        first: AppliedRecord,
    },
}

impl TradeAnswer {
    /// The reply the trade's sender gets.
    pub fn reply(&self) -> Reply<TradeApplied> {
        match self {
            Self::Recorded(record) | Self::Replayed(record) | Self::Unrecorded(record) => {
                record.reply()
            }
            Self::KeyReused { key, first } => Reply::key_reused(first.reuse_message(key)),
        }
    }
}

/// Applies one buy or sell of `quantity` shares to `stock` (named `name`; `None` when the catalog
/// does not hold it) and returns the stock as it is afterwards, version bumped by one.
///
/// # Errors
/// [`Refusal::NotFound`] for an unknown stock; [`Refusal::Rejected`] for a buy of more shares
/// than are available, or when the new quantity or version would overflow `u64`.
pub fn apply_trade(
    name: &StockName,
    stock: Option<StockState>,
    side: Side,
    quantity: Quantity,
) -> Result<StockState, Refusal> {
    let stock = stock.ok_or(Refusal::NotFound)?;
    let requested = quantity.get();
    let quantity_after = match side {
        Side::Buy => stock.quantity.checked_sub(requested).ok_or_else(|| {
            Refusal::Rejected(format!(
                "not enough shares of {name}: {} available, {requested} requested",
                stock.quantity
            ))
        })?,
        Side::Sell => stock.quantity.checked_add(requested).ok_or_else(|| {
            Refusal::Rejected(format!(
                "cannot sell {requested} shares of {name}: the quantity would overflow"
            ))
        })?,
    };
    let version = stock
        .version
        .checked_add(1)
        .ok_or_else(|| Refusal::Rejected(format!("the version of {name} would overflow")))?;
    Ok(StockState {
        price: stock.price,
        quantity: quantity_after,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fishco() -> StockName {
        StockName::parse("FishCo").unwrap()
    }

    fn stock(quantity: u64, version: u64) -> Option<StockState> {
        Some(StockState {
            price: 2.5,
            quantity,
            version,
        })
    }

    fn qty(n: u64) -> Quantity {
        Quantity::parse(n).unwrap()
    }

    #[test]
    fn buy_lowers_the_quantity_and_bumps_the_version() {
        let after = apply_trade(&fishco(), stock(10, 4), Side::Buy, qty(3)).unwrap();
        assert_eq!(after.quantity, 7);
        assert_eq!(after.version, 5);
        assert_eq!(after.price, 2.5);
    }

    #[test]
    fn buy_of_every_available_share_leaves_zero() {
        let after = apply_trade(&fishco(), stock(5, 1), Side::Buy, qty(5)).unwrap();
        assert_eq!(after.quantity, 0);
    }

    #[test]
    fn buy_of_more_than_available_is_rejected_naming_both_counts() {
        let refusal = apply_trade(&fishco(), stock(3, 1), Side::Buy, qty(5)).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::Rejected("not enough shares of FishCo: 3 available, 5 requested".into())
        );
    }

    #[test]
    fn sell_raises_the_quantity_and_bumps_the_version() {
        let after = apply_trade(&fishco(), stock(10, 1), Side::Sell, qty(6)).unwrap();
        assert_eq!(after.quantity, 16);
        assert_eq!(after.version, 2);
    }

    #[test]
    fn sell_that_would_overflow_is_rejected() {
        let refusal = apply_trade(&fishco(), stock(u64::MAX - 1, 1), Side::Sell, qty(2));
        assert!(matches!(refusal, Err(Refusal::Rejected(m)) if m.contains("overflow")));
    }

    #[test]
    fn version_overflow_is_rejected() {
        let refusal = apply_trade(&fishco(), stock(10, u64::MAX), Side::Sell, qty(1));
        assert!(matches!(refusal, Err(Refusal::Rejected(_))));
    }

    #[test]
    fn trade_on_an_unknown_stock_is_not_found() {
        let refusal = apply_trade(&fishco(), None, Side::Buy, qty(1)).unwrap_err();
        assert_eq!(refusal, Refusal::NotFound);
        assert_eq!(
            Outcome::from(refusal),
            Outcome::NotFound {
                message: STOCK_NOT_FOUND.into()
            }
        );
    }

    #[test]
    fn stored_record_replays_the_same_reply() {
        let record = AppliedRecord {
            name: fishco(),
            side: Side::Buy,
            quantity: qty(2),
            outcome: Outcome::Applied {
                quantity_after: 8,
                version: 3,
            },
            applied_at_unix_ms: 1,
        };
        let json = serde_json::to_string(&record).unwrap();
        let back: AppliedRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
        assert_eq!(
            back.reply(),
            Reply::ok(TradeApplied {
                name: fishco(),
                quantity: 8,
                version: 3
            })
        );
    }

    #[test]
    fn a_reused_key_is_answered_with_the_first_order() {
        let first = AppliedRecord {
            name: StockName::parse("GameStart").unwrap(),
            side: Side::Buy,
            quantity: qty(1),
            outcome: Outcome::Applied {
                quantity_after: 99,
                version: 2,
            },
            applied_at_unix_ms: 1,
        };
        let answer = TradeAnswer::KeyReused {
            key: IdempotencyKey::parse("k-1").unwrap(),
            first,
        };
        assert_eq!(
            answer.reply(),
            Reply::key_reused("Idempotency-Key k-1 was first used for buy 1 GameStart")
        );
    }
}
