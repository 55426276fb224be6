//! The invariants I1-I6, each a pure function over what the run recorded.

use crate::history::{Component, Outage, Outcome, Recovery, Request, RequestKind};
use bazaar_nats::messages::{OrderRecord, ReplicaDigest};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// The verdict on one invariant.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `I1` .. `I6` and a short name.
    pub name: &'static str,
    /// Whether it held.
    pub holds: bool,
    /// What was checked, or the first violations.
    pub detail: String,
}

fn verdict(name: &'static str, violations: Vec<String>, checked: String) -> Check {
    if violations.is_empty() {
        Check {
            name,
            holds: true,
            detail: checked,
        }
    } else {
        let shown: Vec<String> = violations.iter().take(5).cloned().collect();
        Check {
            name,
            holds: false,
            detail: format!("{} violations, e.g. {}", violations.len(), shown.join("; ")),
        }
    }
}

/// I1: every acknowledged trade is in the log exactly once, under the number the client was
/// given, with its stock, side and quantity; no trade refused with 409 is in the log.
pub fn acknowledged_trades_are_logged_once(requests: &[Request], log: &[OrderRecord]) -> Check {
    let mut by_key: HashMap<&str, Vec<&OrderRecord>> = HashMap::new();
    for record in log {
        by_key.entry(record.key.as_str()).or_default().push(record);
    }
    let mut violations = Vec::new();
    let mut acknowledged = 0;
    for request in requests {
        let RequestKind::Trade {
            key,
            stock,
            side,
            quantity,
        } = &request.kind
        else {
            continue;
        };
        let found = by_key.get(key.as_str()).map_or(&[][..], Vec::as_slice);
        match &request.outcome {
            Outcome::Traded { number } => {
                acknowledged += 1;
                match found {
                    [record] => {
                        if record.number != *number
                            || record.name.as_str() != stock
                            || record.side.as_str() != side
                            || record.quantity.get() != *quantity
                        {
                            violations
                                .push(format!("{key}: client got #{number}, log has {record:?}"));
                        }
                    }
                    [] => violations.push(format!(
                        "{key}: acknowledged as #{number} but not in the log"
                    )),
                    many => violations.push(format!("{key}: in the log {} times", many.len())),
                }
            }
            Outcome::Refused if !found.is_empty() => {
                violations.push(format!("{key}: refused with 409 but in the log"));
            }
            _ => {}
        }
    }
    for (key, records) in &by_key {
        if records.len() > 1 {
            violations.push(format!("{key}: logged {} times", records.len()));
        }
    }
    verdict(
        "I1 acknowledged trades logged exactly once",
        violations,
        format!(
            "{acknowledged} acknowledged trades checked against {} log entries",
            log.len()
        ),
    )
}

/// I2: every replica holds the same history as the log.
pub fn replicas_converge(digests: &[ReplicaDigest], replicas: usize, log_len: usize) -> Check {
    let mut violations = Vec::new();
    if digests.len() != replicas {
        violations.push(format!(
            "only {} of {replicas} replicas answered",
            digests.len()
        ));
    }
    for d in digests {
        if d.count != log_len as u64 {
            violations.push(format!(
                "replica {} holds {} orders, the log {log_len}",
                d.replica, d.count
            ));
        }
        if d.hash != digests[0].hash {
            violations.push(format!(
                "replica {} hash {} differs from {}",
                d.replica, d.hash, digests[0].hash
            ));
        }
    }
    verdict(
        "I2 replicas identical",
        violations,
        format!(
            "{} replicas at {} orders, hash {}",
            digests.len(),
            log_len,
            digests.first().map_or("-", |d| d.hash.as_str())
        ),
    )
}

/// I3: for every stock, catalog quantity = initial - buys + sells over the whole log, and the
/// catalog holds no applied trade that the log lacks.
pub fn quantities_are_conserved(
    initial: &BTreeMap<String, u64>,
    now: &BTreeMap<String, u64>,
    log: &[OrderRecord],
    unlogged_in_catalog: usize,
) -> Check {
    let mut expected: BTreeMap<String, i64> = initial
        .iter()
        .map(|(k, v)| (k.clone(), *v as i64))
        .collect();
    for r in log {
        let delta = r.quantity.get() as i64;
        let q = expected.entry(r.name.to_string()).or_default();
        match r.side {
            bazaar_nats::Side::Buy => *q -= delta,
            bazaar_nats::Side::Sell => *q += delta,
        }
    }
    let mut violations = Vec::new();
    for (name, want) in &expected {
        let got = now.get(name).map_or(-1, |q| *q as i64);
        if got != *want {
            violations.push(format!("{name}: catalog {got}, log implies {want}"));
        }
    }
    if unlogged_in_catalog > 0 {
        violations.push(format!(
            "{unlogged_in_catalog} trades applied in the catalog are not in the log"
        ));
    }
    verdict(
        "I3 catalog quantities match the log",
        violations,
        format!(
            "{} stocks balanced over {} orders",
            expected.len(),
            log.len()
        ),
    )
}

/// I4: transaction numbers run 0, 1, 2, ... in log order: no gaps, no repeats.
pub fn numbers_are_gapless(log: &[OrderRecord]) -> Check {
    let violations: Vec<String> = log
        .iter()
        .enumerate()
        .filter(|(i, r)| r.number != *i as u64)
        .map(|(i, r)| format!("position {i} holds number {}", r.number))
        .collect();
    verdict(
        "I4 numbers gapless",
        violations,
        format!("numbers 0..{}", log.len()),
    )
}

/// A lookup's start, end and the version it served.
type TimedRead = (Duration, Duration, u64);

/// I5: a frontend never serves a version of a stock older than one it served in an answer
/// that completed before the request began.
pub fn reads_are_monotonic(requests: &[Request]) -> Check {
    let mut groups: HashMap<(usize, &str), Vec<TimedRead>> = HashMap::new();
    for r in requests {
        if let (RequestKind::Lookup { stock }, Outcome::Looked { version, .. }) =
            (&r.kind, &r.outcome)
        {
            groups
                .entry((r.frontend, stock.as_str()))
                .or_default()
                .push((r.start, r.end, *version));
        }
    }
    let mut violations = Vec::new();
    let mut checked = 0;
    for ((frontend, stock), reads) in &groups {
        let mut by_end = reads.clone();
        by_end.sort_by_key(|r| r.1);
        let mut by_start = reads.clone();
        by_start.sort_by_key(|r| r.0);
        let mut seen = 0u64;
        let mut next = 0;
        for (start, _, version) in by_start {
            while next < by_end.len() && by_end[next].1 < start {
                seen = seen.max(by_end[next].2);
                next += 1;
            }
            checked += 1;
            if version < seen {
                violations.push(format!(
                    "frontend {frontend} served {stock} v{version} at {:.3}s after serving v{seen}",
                    start.as_secs_f64()
                ));
            }
        }
    }
    verdict(
        "I5 monotonic reads per frontend",
        violations,
        format!("{checked} lookups checked"),
    )
}

/// How long after a component comes back its absence may still excuse a failure (reconnects,
/// elections, catching up).
pub const RECOVERY_GRACE: Duration = Duration::from_secs(3);

/// I6: while nats-server, the catalog and an order replica are up, no request fails; and no
/// request, failed or not, takes longer than `longest_allowed` (the retry budget plus slack).
///
/// A replica counts as up from its start until it is killed or frozen, and again once it has
/// caught up with the log after coming back (`recoveries`): a replica still replaying the log
/// may not lead. So a trade is excused when, at some moment while it ran, none of the
/// `replicas` was up (plus [`RECOVERY_GRACE`] for the election). Lookups need no replica.
pub fn no_failure_while_up(
    requests: &[Request],
    outages: &[Outage],
    recoveries: &[Recovery],
    replicas: u32,
    longest_allowed: Duration,
) -> Check {
    let no_replica = no_replica_up(outages, recoveries, replicas);
    let excused = |r: &Request| {
        let needs_component = outages.iter().any(|o| {
            let relevant = match o.component {
                Component::Nats | Component::Catalog => true,
                Component::Frontend(f) => f == r.frontend,
                Component::Replica(_) => false,
            };
            relevant && r.start <= o.to + RECOVERY_GRACE && r.end >= o.from
        });
        let needs_replica = matches!(r.kind, RequestKind::Trade { .. })
            && no_replica
                .iter()
                .any(|(from, to)| r.start <= *to + RECOVERY_GRACE && r.end >= *from);
        needs_component || needs_replica
    };
    let mut violations = Vec::new();
    for r in requests {
        let took = r.end - r.start;
        if took > longest_allowed {
            violations.push(format!(
                "request at {:.3}s took {:.1}s ({:?})",
                r.start.as_secs_f64(),
                took.as_secs_f64(),
                r.outcome
            ));
        }
        match &r.outcome {
            Outcome::Wrong(status, body) => violations.push(format!(
                "request at {:.3}s got {status}: {body}",
                r.start.as_secs_f64()
            )),
            o if o.is_failure() && !excused(r) => violations.push(format!(
                "request at {:.3}s to frontend {} failed with {o:?} while everything was up",
                r.start.as_secs_f64(),
                r.frontend
            )),
            _ => {}
        }
    }
    let failures = requests.iter().filter(|r| r.outcome.is_failure()).count();
    let without_replica: Duration = no_replica.iter().map(|(from, to)| *to - *from).sum();
    verdict(
        "I6 no failure while up, fail fast when down",
        violations,
        format!(
            "{failures} failed requests, all during outages and within {longest_allowed:?}; no replica holding the log was up for {:.1} s in {} windows",
            without_replica.as_secs_f64(),
            no_replica.len()
        ),
    )
}

/// The intervals during which none of replicas `1..=replicas` was up: each was killed, frozen,
/// or back but still catching up with the log.
pub fn no_replica_up(
    outages: &[Outage],
    recoveries: &[Recovery],
    replicas: u32,
) -> Vec<(Duration, Duration)> {
    let down_of = |id: u32| {
        let mut spans: Vec<(Duration, Duration)> = outages
            .iter()
            .filter(|o| o.component == Component::Replica(id))
            .map(|o| (o.from, o.to))
            .chain(
                recoveries
                    .iter()
                    .filter(|r| r.replica == id)
                    .map(|r| (r.from, r.to)),
            )
            .collect();
        merge(&mut spans)
    };
    (1..=replicas)
        .map(down_of)
        .reduce(|all, next| intersect(&all, &next))
        .unwrap_or_default()
}

/// Sorts `spans` and joins those that touch or overlap.
fn merge(spans: &mut [(Duration, Duration)]) -> Vec<(Duration, Duration)> {
    spans.sort();
    let mut merged: Vec<(Duration, Duration)> = Vec::new();
    for &(from, to) in spans.iter() {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The overlaps of two sorted lists of disjoint spans.
fn intersect(a: &[(Duration, Duration)], b: &[(Duration, Duration)]) -> Vec<(Duration, Duration)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let from = a[i].0.max(b[j].0);
        let to = a[i].1.min(b[j].1);
        if from < to {
            out.push((from, to));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

    fn record(number: u64, key: &str, side: Side) -> OrderRecord {
        OrderRecord {
            number,
            key: IdempotencyKey::parse(key).unwrap(),
            name: StockName::parse("FishCo").unwrap(),
            side,
            quantity: Quantity::parse(2).unwrap(),
            version: number + 2,
        }
    }

    fn request(start: u64, end: u64, kind: RequestKind, outcome: Outcome) -> Request {
        Request {
            client: 0,
            frontend: 0,
            start: Duration::from_millis(start),
            end: Duration::from_millis(end),
            kind,
            outcome,
        }
    }

    fn trade(key: &str) -> RequestKind {
        RequestKind::Trade {
            key: key.into(),
            stock: "FishCo".into(),
            side: "buy".into(),
            quantity: 2,
        }
    }

    fn lookup() -> RequestKind {
        RequestKind::Lookup {
            stock: "FishCo".into(),
        }
    }

    #[test]
    fn an_acknowledged_trade_missing_from_the_log_or_logged_twice_breaks_i1() {
        let requests = vec![request(0, 1, trade("a"), Outcome::Traded { number: 0 })];
        assert!(acknowledged_trades_are_logged_once(&requests, &[record(0, "a", Side::Buy)]).holds);
        assert!(!acknowledged_trades_are_logged_once(&requests, &[]).holds);
        let twice = [record(0, "a", Side::Buy), record(1, "a", Side::Buy)];
        assert!(!acknowledged_trades_are_logged_once(&requests, &twice).holds);
        let wrong_number = vec![request(0, 1, trade("a"), Outcome::Traded { number: 3 })];
        assert!(
            !acknowledged_trades_are_logged_once(&wrong_number, &[record(0, "a", Side::Buy)]).holds
        );
    }

    #[test]
    fn conservation_counts_buys_and_sells_over_the_log() {
        let initial = BTreeMap::from([("FishCo".to_string(), 100)]);
        let log = [
            record(0, "a", Side::Buy),
            record(1, "b", Side::Sell),
            record(2, "c", Side::Buy),
        ];
        let now = BTreeMap::from([("FishCo".to_string(), 98)]);
        assert!(quantities_are_conserved(&initial, &now, &log, 0).holds);
        assert!(!quantities_are_conserved(&initial, &now, &log[..2], 0).holds);
        assert!(!quantities_are_conserved(&initial, &now, &log, 1).holds);
    }

    #[test]
    fn numbers_must_follow_log_positions() {
        assert!(numbers_are_gapless(&[record(0, "a", Side::Buy), record(1, "b", Side::Buy)]).holds);
        assert!(
            !numbers_are_gapless(&[record(0, "a", Side::Buy), record(2, "b", Side::Buy)]).holds
        );
    }

    #[test]
    fn an_older_version_after_a_completed_newer_read_breaks_i5_but_overlap_does_not() {
        let seen = |v| Outcome::Looked {
            quantity: 1,
            version: v,
        };
        let overlapping = vec![
            request(0, 10, lookup(), seen(5)),
            request(5, 12, lookup(), seen(4)),
        ];
        assert!(reads_are_monotonic(&overlapping).holds);
        let after = vec![
            request(0, 10, lookup(), seen(5)),
            request(11, 12, lookup(), seen(4)),
        ];
        assert!(!reads_are_monotonic(&after).holds);
    }

    #[test]
    fn failures_are_excused_only_during_outages_of_what_requests_need() {
        let failed = vec![request(5_000, 5_100, lookup(), Outcome::Unavailable)];
        let nats_down = [Outage {
            component: Component::Nats,
            from: Duration::from_millis(4_000),
            to: Duration::from_millis(4_500),
        }];
        let replica_down = [Outage {
            component: Component::Replica(3),
            ..nats_down[0]
        }];
        let limit = Duration::from_secs(9);
        assert!(no_failure_while_up(&failed, &nats_down, &[], 3, limit).holds);
        assert!(!no_failure_while_up(&failed, &replica_down, &[], 3, limit).holds);
        assert!(!no_failure_while_up(&failed, &[], &[], 3, limit).holds);
        let slow = vec![request(
            0,
            10_000,
            lookup(),
            Outcome::Looked {
                quantity: 1,
                version: 1,
            },
        )];
        assert!(!no_failure_while_up(&slow, &nats_down, &[], 3, limit).holds);
    }

    fn span(from_ms: u64, to_ms: u64) -> (Duration, Duration) {
        (Duration::from_millis(from_ms), Duration::from_millis(to_ms))
    }

    fn replica_out(id: u32, from_ms: u64, to_ms: u64) -> Outage {
        Outage {
            component: Component::Replica(id),
            from: Duration::from_millis(from_ms),
            to: Duration::from_millis(to_ms),
        }
    }

    fn catching_up(id: u32, from_ms: u64, to_ms: u64) -> Recovery {
        Recovery {
            replica: id,
            from: Duration::from_millis(from_ms),
            to: Duration::from_millis(to_ms),
            caught_up: true,
        }
    }

    #[test]
    fn no_replica_is_up_only_where_every_replica_is_down_or_catching_up() {
        // 1 is wiped at 0 and replays until 9 s; 2 is killed 2-3 s and catches up by 3.5 s;
        // 3 is killed 3-4 s and catches up by 4.2 s.
        let outages = [
            replica_out(1, 0, 1_000),
            replica_out(2, 2_000, 3_000),
            replica_out(3, 3_000, 4_000),
        ];
        let recoveries = [
            catching_up(1, 1_000, 9_000),
            catching_up(2, 3_000, 3_500),
            catching_up(3, 4_000, 4_200),
        ];
        assert_eq!(
            no_replica_up(&outages, &recoveries, 3),
            vec![span(3_000, 3_500)]
        );
        // Without the catch-up, a replica is up again the moment it restarts.
        assert!(no_replica_up(&outages, &[], 3).is_empty());
    }

    #[test]
    fn a_failed_trade_is_excused_while_no_replica_holds_the_log_but_a_lookup_is_not() {
        let outages = [replica_out(2, 2_000, 2_100), replica_out(3, 2_000, 2_100)];
        let recoveries = [
            catching_up(1, 0, 8_000),
            catching_up(2, 2_100, 2_300),
            catching_up(3, 2_100, 2_400),
        ];
        let limit = Duration::from_secs(9);
        let trade_failed = [request(2_050, 7_050, trade("t"), Outcome::Unavailable)];
        assert!(no_failure_while_up(&trade_failed, &outages, &recoveries, 3, limit).holds);
        let later = [request(6_000, 11_000, trade("t"), Outcome::Unavailable)];
        assert!(!no_failure_while_up(&later, &outages, &recoveries, 3, limit).holds);
        let lookup_failed = [request(2_050, 7_050, lookup(), Outcome::Unavailable)];
        assert!(!no_failure_while_up(&lookup_failed, &outages, &recoveries, 3, limit).holds);
    }
}
