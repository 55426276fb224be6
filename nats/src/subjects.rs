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

/// NATS micro service name the catalog registers under (`nats micro info catalog`).
pub const SERVICE_CATALOG: &str = "catalog";
/// NATS micro service name every order replica registers under; each replica is one instance.
pub const SERVICE_ORDER: &str = "order";
/// NATS micro service name every frontend registers under, for discovery only (no endpoints).
pub const SERVICE_FRONTEND: &str = "frontend";

/// Operator only, request-reply, empty body -> `AdminReply`: order replica `id`, if it leads,
/// gives up its lease at once (and does not campaign again for a while).
pub fn admin_order_stepdown(replica: u32) -> String {
    format!("admin.order.{replica}.stepdown")
}

/// Operator only, request-reply, `PauseFault` -> `AdminReply`: order replica `id` stops
/// renewing, answering and following for `ms`, as if frozen.
pub fn admin_order_pause(replica: u32) -> String {
    format!("admin.order.{replica}.pause")
}

/// Operator only, request-reply, empty body -> `AdminReply`: order replica `id` exits at once,
/// without draining, after sending the reply.
pub fn admin_order_crash(replica: u32) -> String {
    format!("admin.order.{replica}.crash")
}

/// Operator only, request-reply, `DelayFault` -> `AdminReply`: every reply of order replica
/// `id` waits `ms`, for `for_ms`.
pub fn admin_order_delay(replica: u32) -> String {
    format!("admin.order.{replica}.delay")
}

/// Operator only, request-reply, `PauseFault` -> `AdminReply`: the catalog stops answering
/// for `ms`, as if frozen.
pub fn admin_catalog_pause() -> String {
    "admin.catalog.pause".into()
}

/// Operator only, request-reply, empty body -> `AdminReply`: the catalog exits at once,
/// without draining, after sending the reply.
pub fn admin_catalog_crash() -> String {
    "admin.catalog.crash".into()
}

/// Operator only, request-reply, `DelayFault` -> `AdminReply`: every catalog reply waits `ms`,
/// for `for_ms`.
pub fn admin_catalog_delay() -> String {
    "admin.catalog.delay".into()
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

    #[test]
    fn admin_subjects_name_the_target() {
        assert_eq!(admin_order_stepdown(1), "admin.order.1.stepdown");
        assert_eq!(admin_order_pause(2), "admin.order.2.pause");
        assert_eq!(admin_order_crash(3), "admin.order.3.crash");
        assert_eq!(admin_order_delay(2), "admin.order.2.delay");
        assert_eq!(admin_catalog_pause(), "admin.catalog.pause");
        assert_eq!(admin_catalog_crash(), "admin.catalog.crash");
        assert_eq!(admin_catalog_delay(), "admin.catalog.delay");
    }
}
