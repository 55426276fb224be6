//! The reference workload's random choices, kept pure so they can be tested and replayed.
//!
//! Every client draws from its own [`fastrand::Rng`], seeded by [`client_seed`] from the run's
//! `--seed`: two runs with the same seed and stock list make the same requests in the same order
//! per client (whatever the answers were), and no two clients share a sequence.

use serde::{Deserialize, Serialize};

/// The largest quantity a trade asks for; each trade draws uniformly from `1..=MAX_TRADE_QUANTITY`.
pub const MAX_TRADE_QUANTITY: u64 = 5;

/// Which side of the market a trade is on, spelled as the HTTP API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Take shares out of the catalog (refused with 409 when too few are left).
    Buy,
    /// Put shares back.
    Sell,
}

impl Side {
    /// `"buy"` or `"sell"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
        }
    }
}

/// A trade a step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TradeChoice {
    /// Buy or sell.
    pub side: Side,
    /// How many shares, in `1..=MAX_TRADE_QUANTITY`.
    pub quantity: u64,
}

/// One iteration of a client: the stock to look up and, with probability `p`, a trade on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index into the stock list fetched at the start.
    pub stock: usize,
    /// The trade to place after the lookup, if any.
    pub trade: Option<TradeChoice>,
}

/// Client `index`'s seed, derived from the run's `seed` with SplitMix64 so neighbouring clients
/// (and neighbouring seeds) get unrelated sequences.
pub fn client_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed
        ^ (index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random number generator of client `index` in a run seeded with `seed`.
pub fn client_rng(seed: u64, index: usize) -> fastrand::Rng {
    fastrand::Rng::with_seed(client_seed(seed, index))
}

/// Draws the next step: a uniformly random stock among `stocks`, then a trade with probability
/// `p` (buy or sell with equal odds, quantity uniform in `1..=MAX_TRADE_QUANTITY`).
///
/// # Panics
/// When `stocks` is 0: there is nothing to pick.
pub fn next_step(rng: &mut fastrand::Rng, stocks: usize, p: f64) -> Step {
    assert!(stocks > 0, "the workload needs at least one stock");
    let stock = rng.usize(..stocks);
    // `f64()` is in [0, 1): p = 0 never trades and p = 1 always does.
    let trade = (rng.f64() < p).then(|| TradeChoice {
        side: if rng.bool() { Side::Buy } else { Side::Sell },
        quantity: rng.u64(1..=MAX_TRADE_QUANTITY),
    });
    Step { stock, trade }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(seed: u64, index: usize, n: usize, p: f64) -> Vec<Step> {
        let mut rng = client_rng(seed, index);
        (0..n).map(|_| next_step(&mut rng, 10, p)).collect()
    }

    #[test]
    fn the_same_seed_and_client_replay_the_same_steps() {
        assert_eq!(steps(7, 3, 200, 0.5), steps(7, 3, 200, 0.5));
    }

    #[test]
    fn different_clients_and_seeds_get_different_steps() {
        assert_ne!(steps(7, 0, 50, 0.5), steps(7, 1, 50, 0.5));
        assert_ne!(steps(7, 0, 50, 0.5), steps(8, 0, 50, 0.5));
    }

    #[test]
    fn p_zero_never_trades_and_p_one_always_does() {
        assert!(steps(1, 0, 1000, 0.0).iter().all(|s| s.trade.is_none()));
        assert!(steps(1, 0, 1000, 1.0).iter().all(|s| s.trade.is_some()));
    }

    #[test]
    fn trade_frequency_follows_p() {
        let n = 20_000;
        let trades = steps(42, 0, n, 0.3)
            .iter()
            .filter(|s| s.trade.is_some())
            .count();
        let share = trades as f64 / n as f64;
        assert!((share - 0.3).abs() < 0.02, "traded in {share} of steps");
    }

    #[test]
    fn choices_stay_in_range_and_cover_it() {
        let all = steps(9, 2, 5000, 1.0);
        assert!(all.iter().all(|s| s.stock < 10));
        let quantities: std::collections::BTreeSet<u64> = all
            .iter()
            .filter_map(|s| s.trade)
            .map(|t| t.quantity)
            .collect();
        assert_eq!(quantities, (1..=MAX_TRADE_QUANTITY).collect());
        let stocks: std::collections::BTreeSet<usize> = all.iter().map(|s| s.stock).collect();
        assert_eq!(stocks.len(), 10);
        let buys = all
            .iter()
            .filter(|s| s.trade.is_some_and(|t| t.side == Side::Buy))
            .count();
        assert!((2000..3000).contains(&buys), "{buys} buys of 5000");
    }
}
