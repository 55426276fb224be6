//! Every service instance registers with the NATS service protocol on the secured bus: a plain
//! client's `$SRV.PING`, `$SRV.INFO.<name>` and `$SRV.STATS.<name>` (what `nats micro ls`,
//! `info` and `stats` send) are answered by each instance, with its version and endpoints, and
//! the request counts move as trades go through.

use crate::helpers::must_trade;
use bazaar_e2e::{System, SystemOptions};
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// How long a discovery request waits for more answers after the last one.
const QUIET: Duration = Duration::from_millis(700);

/// Publishes a discovery request and gathers every answer until none came for [`QUIET`].
async fn gather(system: &System, subject: &str, expected: usize) -> Vec<Value> {
    let inbox = system.client.new_inbox();
    let mut answers = system.client.subscribe(inbox.clone()).await.expect("inbox");
    system
        .client
        .publish_with_reply(subject.to_string(), inbox, bytes::Bytes::new())
        .await
        .expect("publish");
    let mut found = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(QUIET, answers.next()).await {
        found.push(serde_json::from_slice(&message.payload).expect("a JSON answer"));
    }
    assert_eq!(found.len(), expected, "answers to {subject}: {found:#?}");
    found
}

/// The stats answer's endpoint named `name`.
fn endpoint<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["endpoints"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no endpoint {name} in {stats:#}"))
}

fn requests(stats: &Value, name: &str) -> u64 {
    endpoint(stats, name)["num_requests"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn every_instance_answers_discovery_with_its_version_endpoints_and_counts() {
    let system = System::start(SystemOptions {
        secured: true,
        frontends: 2,
        ..SystemOptions::default()
    })
    .await;
    let version = env!("CARGO_PKG_VERSION");

    let pongs = gather(&system, "$SRV.PING", 6).await;
    let mut names: Vec<&str> = pongs.iter().filter_map(|p| p["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["catalog", "frontend", "frontend", "order", "order", "order"]
    );
    assert!(pongs.iter().all(|p| p["version"] == version), "{pongs:#?}");

    let infos = gather(&system, "$SRV.INFO.order", 3).await;
    let mut replicas = Vec::new();
    for info in &infos {
        let id: u32 = info["metadata"]["replica"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .expect("a replica id");
        replicas.push(id);
        assert_eq!(info["version"], version);
        let mut subjects: Vec<&str> = info["endpoints"]
            .as_array()
            .expect("endpoints")
            .iter()
            .filter_map(|e| e["subject"].as_str())
            .collect();
        subjects.sort_unstable();
        let digest = format!("order.replica.{id}.digest");
        let get = format!("order.replica.{id}.get");
        let trade = format!("order.replica.{id}.trade");
        assert_eq!(subjects, [digest.as_str(), get.as_str(), trade.as_str()]);
    }
    replicas.sort_unstable();
    assert_eq!(replicas, [1, 2, 3]);

    let before = gather(&system, "$SRV.STATS.catalog", 1).await.remove(0);
    let info = gather(&system, "$SRV.INFO.catalog", 1).await.remove(0);
    let queues: Vec<&str> = info["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .filter_map(|e| e["queue_group"].as_str())
        .collect();
    assert_eq!(queues, ["catalog"; 5], "the catalog keeps its queue group");

    for _ in 0..3 {
        must_trade(&system, "GameStart", 1, "buy").await;
    }
    // A malformed lookup is answered `invalid` and counted as a failed reply.
    let reply = system
        .client
        .request("catalog.stock.lookup", "not json".into())
        .await
        .expect("an answer");
    assert!(reply
        .headers
        .is_some_and(|h| h.get("Nats-Service-Error-Code").is_some()));

    let after = gather(&system, "$SRV.STATS.catalog", 1).await.remove(0);
    assert!(
        requests(&after, "trade") >= requests(&before, "trade") + 3,
        "{before:#}\n{after:#}"
    );
    assert_eq!(endpoint(&after, "lookup")["data"]["error_replies"], 1);
    assert!(endpoint(&after, "trade")["average_processing_time"].as_u64() > Some(0));

    let leader = system.wait_for_leader(None, Duration::from_secs(5)).await;
    let stats = gather(&system, "$SRV.STATS.order", 3).await;
    let leading = stats
        .iter()
        .find(|s| {
            endpoint(s, "trade")["subject"] == format!("order.replica.{leader}.trade").as_str()
        })
        .expect("the leader's stats");
    assert!(requests(leading, "trade") >= 3, "{leading:#}");
}
