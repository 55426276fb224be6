//! `/metrics` of the frontend, the catalog and every replica, and `/readyz`, on the real
//! binaries.

use crate::helpers::{error_message, must_trade};
use bazaar_e2e::metrics::{promtool_check, sample, scrape};
use bazaar_e2e::system::wait_until;
use bazaar_e2e::{System, SystemOptions};
use std::time::Duration;

/// Every endpoint's text, or a panic naming the one that did not answer.
async fn scrape_all(system: &System) -> Vec<(String, String)> {
    let mut bases = vec![system.url().to_string(), system.metrics.catalog.clone()];
    bases.extend(system.metrics.orders.iter().cloned());
    let mut texts = Vec::new();
    for base in bases {
        let text = scrape(&system.http, &base)
            .await
            .unwrap_or_else(|| panic!("{base}/metrics does not answer"));
        texts.push((base, text));
    }
    texts
}

async fn frontend_metric(system: &System, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = scrape(&system.http, system.url())
        .await
        .expect("frontend metrics");
    sample(&text, name, labels).unwrap_or(0.0)
}

async fn catalog_applied(system: &System) -> f64 {
    let text = scrape(&system.http, &system.metrics.catalog)
        .await
        .expect("catalog metrics");
    sample(
        &text,
        "bazaar_catalog_trades_total",
        &[("outcome", "applied")],
    )
    .unwrap_or(0.0)
}

/// The replicas whose `bazaar_order_is_leader` is 1.
async fn leaders_by_metrics(system: &System) -> Vec<u32> {
    let mut leaders = Vec::new();
    for (i, base) in system.metrics.orders.iter().enumerate() {
        let text = scrape(&system.http, base).await.unwrap_or_default();
        if sample(&text, "bazaar_order_is_leader", &[]) == Some(1.0) {
            leaders.push(i as u32 + 1);
        }
    }
    leaders
}

#[tokio::test]
async fn metrics_move_with_trades_and_name_exactly_one_leader() {
    let system = System::start(SystemOptions::default()).await;
    let posts = [("method", "POST"), ("route", "/orders"), ("status", "200")];
    let posted_before = frontend_metric(&system, "bazaar_http_requests_total", &posts).await;
    let applied_before = catalog_applied(&system).await;

    for side in ["buy", "sell", "buy"] {
        must_trade(&system, "FishCo", 1, side).await;
    }
    let posted = frontend_metric(&system, "bazaar_http_requests_total", &posts).await;
    assert_eq!(
        posted - posted_before,
        3.0,
        "POST /orders counted per request"
    );
    assert_eq!(
        catalog_applied(&system).await - applied_before,
        3.0,
        "trades applied"
    );
    let text = scrape(&system.http, &system.metrics.catalog).await.unwrap();
    assert!(
        sample(&text, "bazaar_catalog_commit_duration_seconds_count", &[]).unwrap_or(0.0) >= 3.0
    );
    assert!(sample(&text, "bazaar_catalog_batch_size_count", &[]).unwrap_or(0.0) >= 1.0);

    let leader = system.leader().await.expect("a leader");
    wait_until(
        Duration::from_secs(10),
        "exactly the leader reports is_leader 1",
        || async { leaders_by_metrics(&system).await == vec![leader] },
    )
    .await;
    wait_until(
        Duration::from_secs(10),
        "every replica stores the trades, lag 0",
        || async {
            let mut all = true;
            for base in &system.metrics.orders {
                let text = scrape(&system.http, base).await.unwrap_or_default();
                all &= sample(&text, "bazaar_order_orders_stored", &[]) == Some(3.0)
                    && sample(&text, "bazaar_order_log_lag", &[]) == Some(0.0)
                    && sample(&text, "bazaar_order_catch_up_seconds", &[]).is_some();
            }
            all
        },
    )
    .await;

    let mut skipped = false;
    for (base, text) in scrape_all(&system).await {
        match promtool_check(&text) {
            Ok(true) => {}
            Ok(false) => skipped = true,
            Err(complaints) => panic!("promtool check metrics on {base}: {complaints}\n{text}"),
        }
    }
    if skipped {
        eprintln!("SKIP: promtool is not installed (scripts/install-promtool); format not checked");
    }
}

#[tokio::test]
async fn readyz_answers_503_naming_the_catalog_or_the_leader_while_either_is_missing() {
    let mut system = System::start(SystemOptions::default()).await;
    let ready = |system: &System| {
        let url = format!("{}/readyz", system.url());
        let http = system.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = ready(&system).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "ready");

    system.catalog.kill();
    wait_until(
        Duration::from_secs(10),
        "readyz names the catalog",
        || async {
            let (status, body) = ready(&system).await;
            status == 503 && error_message(503, &body).contains("catalog does not answer")
        },
    )
    .await;
    system.catalog.restart();
    wait_until(Duration::from_secs(15), "readyz is 200 again", || async {
        ready(&system).await.0 == 200
    })
    .await;

    for id in 1..=3 {
        system.order(id).kill();
    }
    wait_until(
        Duration::from_secs(10),
        "readyz names the missing leader",
        || async {
            let (status, body) = ready(&system).await;
            status == 503 && error_message(503, &body).contains("no order leader")
        },
    )
    .await;
}
