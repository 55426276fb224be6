//! Subject, stream, bucket and key names: the addresses of the bus.
//!
//! Constants for fixed subjects, functions for the per-replica ones, so that the
//! format lives in exactly one place. Operators type these same names into the `nats` CLI.

/// Request-reply: look up one stock (`StockLookup` -> `Reply<Stock>`). Served by the catalog.
pub const STOCK_LOOKUP: &str = "catalog.stock.lookup";
/// Request-reply: list every stock (empty body -> `Reply<Vec<Stock>>`). Served by the catalog.
pub const STOCK_LIST: &str = "catalog.stock.list";
/// Request-reply: apply a buy or sell at most once per idempotency key
/// (`TradeRequest` -> `Reply<TradeApplied>`). Served by the catalog, called by the order leader.
pub const STOCK_TRADE: &str = "catalog.stock.trade";
/// Request-reply: trades the catalog applied that no order log entry has confirmed yet
/// (`PendingQuery` -> `Reply<Vec<TradeRequest>>`). The order leader rolls them forward.
pub const TRADES_PENDING: &str = "catalog.trades.pending";
/// Publish: the order log now holds these idempotency keys (`ConfirmLogged`). Catalog subscribes.
pub const TRADES_CONFIRM: &str = "catalog.trades.confirm";
/// Publish: a stock changed; caches must drop it (`Invalidation`). Catalog publishes, frontends
/// subscribe.
pub const STOCK_INVALIDATE: &str = "stock.invalidate";
/// JetStream subject of the order log: one `OrderRecord` per accepted trade, published by the
/// order leader only, numbered 0, 1, 2, ... in stream order.
pub const ORDERS_NEW: &str = "orders.new";
/// JetStream subject of the order log's term markers (`TermStart`): each new leader appends
/// one before any order, which moves the stream's last sequence and so fences every earlier
/// leader's appends (they expect an older last sequence).
pub const ORDERS_TERM: &str = "orders.term";
/// Every subject of the order stream, for consumers that replay the whole log.
pub const ORDERS_ALL: &str = "orders.>";

/// JetStream stream that stores [`ORDERS_NEW`]: the durable, replayable order log.
pub const ORDERS_STREAM: &str = "ORDERS";
/// JetStream KV bucket holding the order leader's lease.
pub const LEADER_BUCKET: &str = "order_leader";
/// Key in [`LEADER_BUCKET`] whose value is the leader's replica id, in decimal.
pub const LEADER_KEY: &str = "leader";

/// Request-reply: a trade sent to order replica `id` (`TradeRequest` -> `Reply<TradeReceipt>`).
/// Only the leader accepts; followers answer `not_leader`.
pub fn order_trade(replica: u32) -> String {
    format!("order.replica.{replica}.trade")
}

/// Request-reply: look up order `number` on replica `id` (`OrderQuery` -> `Reply<Order>`).
/// Every replica answers from its own store; the frontend asks the leader.
pub fn order_get(replica: u32) -> String {
    format!("order.replica.{replica}.get")
}

/// Request-reply: a replica's digest of its order history (empty body -> `Reply<ReplicaDigest>`),
/// cheap enough to compare replicas from the `nats` CLI.
pub fn order_digest(replica: u32) -> String {
    format!("order.replica.{replica}.digest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_subjects_name_the_replica() {
        assert_eq!(order_trade(3), "order.replica.3.trade");
        assert_eq!(order_get(1), "order.replica.1.get");
        assert_eq!(order_digest(2), "order.replica.2.digest");
    }
}
