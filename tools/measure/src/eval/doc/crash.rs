//! Section 3 of the evaluation: kill -9 of an order replica under load.

use super::super::crash::{CrashRun, SLOW_MS};
use super::super::Results;
use super::{failures, failures_text, ms};
use crate::doc::table_head;
use bazaar_client::Kind;
use std::fmt::Write as _;

/// The crash runs' table, what the clients noticed, and the plots.
pub(super) fn section(out: &mut String, r: &Results) {
    let c = &r.config;
    let _ = writeln!(out, "## 3. Crash experiment\n");
    let _ = writeln!(
        out,
        "{} runs, each on a fresh system: {} clients at p = {} for {:.0} s; {:.1} s into the load \
         one order replica is killed with SIGKILL (the leader in runs 1, 3, ..., a random \
         follower in runs 2, 4, ...), and {:.1} s later it is started again on its data \
         directory. Then every acknowledged order is read back, and the three replicas' digests \
         (count and chained hash of the whole history) are compared.\n",
        r.crash.len(),
        c.crash_clients,
        c.crash_p,
        c.crash_secs,
        c.crash_kill_at_secs,
        c.crash_down_secs
    );
    table(out, r);
    let _ = writeln!(out);
    summary(out, r);
    let _ = writeln!(
        out,
        "Each plot shows, per 100 ms window of send time, the slowest (solid) and the median \
         (dashed) request of each type; the victim's downtime is shaded, failed requests would \
         be red crosses, and a gap in the lines means no client sent anything then (each was \
         still waiting for an answer). Order queries are the verification after the load.\n"
    );
    for run in &r.crash {
        let _ = writeln!(
            out,
            "![crash run {}](eval/crash-run-{}.svg)\n",
            run.run, run.run
        );
    }
}

/// One row per run: the victim, the failover, what the clients saw and the replicas' end state.
fn table(out: &mut String, r: &Results) {
    let slow = format!("trades > {SLOW_MS:.0} ms");
    table_head(
        out,
        &[
            "run",
            "killed",
            "new leader after",
            "trades ok / 409",
            "failed requests",
            "worst trade",
            &slow,
            "worst lookup",
            "orders read back",
            "replicas",
        ],
    );
    for run in &r.crash {
        let rep = &run.report;
        let failed: Vec<String> = Kind::ALL
            .iter()
            .filter(|k| !failures(rep.kind(**k)).is_empty())
            .map(|k| format!("{}: {}", k.name(), failures_text(rep.kind(*k))))
            .collect();
        let _ = writeln!(
            out,
            "| {} | replica {} ({}) | {} | {} / {} | {} | {} | {} | {} | {} of {}, {} mismatched | {} |",
            run.run,
            run.victim,
            if run.victim_was_leader { "leader" } else { "follower" },
            match (run.victim_was_leader, run.failover_ms) {
                (false, _) => format!("- (stayed {})", run.leader_after.map_or("?".into(), |l| l.to_string())),
                (true, Some(f)) => format!("{f:.0} ms (replica {})", run.leader_after.unwrap_or(0)),
                (true, None) => "none while it was down".into(),
            },
            rep.trade.ok,
            rep.trades_refused,
            if failed.is_empty() { "none".into() } else { failed.join("; ") },
            ms(rep.trade.max_us),
            run.slow_trades,
            ms(rep.lookup.max_us),
            rep.orders_verified,
            rep.orders_acknowledged,
            rep.mismatches,
            digest_text(run),
        );
    }
}

/// What the clients noticed across all runs, and whether the replicas ended identical.
fn summary(out: &mut String, r: &Results) {
    let all_identical = r.crash.iter().all(|run| run.identical);
    let all_verified = r.crash.iter().all(|run| run.report.verified());
    let failed_total: u64 = r
        .crash
        .iter()
        .flat_map(|run| Kind::ALL.map(|k| failures(run.report.kind(k))))
        .flatten()
        .map(|(_, n)| n)
        .sum();
    let leader_runs: Vec<&CrashRun> = r.crash.iter().filter(|x| x.victim_was_leader).collect();
    let follower_runs: Vec<&CrashRun> = r.crash.iter().filter(|x| !x.victim_was_leader).collect();
    let worst = |runs: &[&CrashRun]| {
        runs.iter()
            .map(|x| x.report.trade.max_us)
            .max()
            .unwrap_or(0)
    };
    let _ = writeln!(
        out,
        "What the clients noticed: {} failed request{} in all runs{}. Killing the leader \
         {}: trades in flight waited for the frontend's retry to reach the new leader, the \
         slowest taking {}. Killing a follower: the slowest trade took {}. {} {}\n",
        failed_total,
        if failed_total == 1 { "" } else { "s" },
        if failed_total == 0 {
            " (no 5xx, no timeout, no dropped connection)"
        } else {
            " (see the table)"
        },
        match leader_runs
            .iter()
            .filter_map(|x| x.failover_ms)
            .fold(None, |m: Option<f64>, f| Some(m.map_or(f, |m| m.max(f))))
        {
            Some(f) => format!("gave a new leader within {f:.0} ms of the kill"),
            None => "did not give a new leader in these runs".into(),
        },
        ms(worst(&leader_runs)),
        ms(worst(&follower_runs)),
        if all_verified {
            "Every acknowledged order read back identical in every run."
        } else {
            "Some acknowledged orders did not read back (see the table)."
        },
        if all_identical {
            "All three replicas, the restarted one included, ended with identical histories \
             (same count and hash) in every run."
        } else {
            "In some runs the replicas did not end identical within 30 s (see the table)."
        }
    );
}

fn digest_text(run: &CrashRun) -> String {
    let counts: Vec<String> = run
        .digests
        .iter()
        .map(|d| format!("{}: {}", d.replica, d.count))
        .collect();
    let hash = run
        .digests
        .first()
        .map(|d| d.hash.chars().take(8).collect::<String>())
        .unwrap_or_default();
    if run.identical {
        format!(
            "identical ({} orders, hash {hash}...)",
            run.digests.first().map_or(0, |d| d.count)
        )
    } else {
        format!("DIFFER ({})", counts.join(", "))
    }
}
