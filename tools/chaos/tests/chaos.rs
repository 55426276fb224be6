//! The short seeded chaos run CI makes: every fault kind, a minute of load, all invariants, on
//! the shipped broker configuration (authentication on).

use std::time::Duration;

#[tokio::test]
async fn a_short_seeded_chaos_run_keeps_every_invariant() {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261125);
    let report = bazaar_chaos::run(&bazaar_chaos::RunConfig {
        seed,
        duration: Duration::from_secs(60),
        clients: 4,
        fault_interval: Duration::from_millis(2500),
        retry_budget: Duration::from_millis(5000),
        only_faults: Vec::new(),
        keep_logs: None,
        // The shipped broker configuration: faults must not find a gap in the allow-lists.
        secured: true,
    })
    .await
    .expect("the run completes");
    println!("{}", report.summary());
    assert!(report.faults.len() >= 10, "enough faults were injected");
    assert!(
        report.trades_acknowledged > 50,
        "enough trades went through"
    );
    assert!(report.all_hold(), "{}", report.summary());
}
