//! The reference workload against a whole system: real binaries on a real nats-server
//! (started by `bazaar-e2e`; build the binaries first, as `scripts/test` does).

use bazaar_client::{run, Kind, Workload};
use bazaar_e2e::{System, SystemOptions};

#[tokio::test]
async fn a_small_workload_verifies_every_acknowledged_order_and_its_counts_add_up() {
    let system = System::start(SystemOptions::default()).await;
    let workload = Workload {
        url: system.url().to_string(),
        clients: 3,
        iterations: 40,
        p: 0.5,
        seed: 11,
        samples: true,
        ..Workload::default()
    };

    let report = run(&workload).await.expect("the run starts");

    assert_eq!(report.mismatches, 0, "{:?}", report.mismatch_examples);
    assert_eq!(report.unverified, 0);
    assert!(report.verified());
    // Every iteration looked a stock up, and every lookup of a listed stock succeeded.
    assert_eq!(report.lookup.count, 3 * 40);
    assert_eq!(report.lookup.ok, report.lookup.count);
    // Every trade was acknowledged or refused for lack of shares, nothing else.
    assert!(report.trade.count > 0);
    assert_eq!(report.trade.ok, report.orders_acknowledged);
    assert_eq!(report.trade.errors_of("409"), report.trades_refused);
    assert_eq!(report.trade.ok + report.trades_refused, report.trade.count);
    // Every acknowledged order was queried once and read back identical.
    assert_eq!(report.order_query.count, report.orders_acknowledged);
    assert_eq!(report.orders_verified, report.orders_acknowledged);
    for kind in Kind::ALL {
        let s = report.kind(kind);
        assert_eq!(s.ok + s.error_total(), s.count, "{kind:?}");
        assert!(s.count == 0 || (s.p50_us <= s.p99_us && s.p99_us <= s.max_us));
    }
    let attempts: u64 = Kind::ALL.iter().map(|k| report.kind(*k).count).sum();
    assert_eq!(report.samples.len() as u64, attempts);
    // The order history holds exactly the acknowledged orders.
    let digest = system.digest(1).await.expect("replica 1 answers");
    assert_eq!(digest.count, report.orders_acknowledged);
}
