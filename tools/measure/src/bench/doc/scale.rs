//! The scale sections of the performance document: filling the order log, a replica catching
//! up, and the services' memory.

use super::super::results::{mb, Memory, Results};
use crate::doc::table_head;
use crate::doc::thousands;
use std::fmt::Write as _;

/// How fast the log was filled and how fast a replica caught up.
pub(super) fn scale(out: &mut String, r: &Results) {
    let _ = writeln!(out, "\n## Scale\n");
    let _ = writeln!(
        out,
        "The log is filled by publishing valid `OrderRecord`s straight to JetStream on \
         `orders.new`, numbered on from the last order, each with `Nats-Expected-Last-Sequence` \
         = the tail it follows, pipelined 4,096 in flight, while no trades run (an idle leader \
         appends nothing; any refused or misplaced append stops the run). The replicas \
         materialise them exactly as they do the leader's appends. The orders from the trade \
         runs stay in the log.\n"
    );
    table_head(
        out,
        &[
            "fill",
            "orders appended",
            "publish (s)",
            "stored by every replica (s)",
        ],
    );
    for (name, fill) in [
        (
            format!("to {}", thousands(r.fill_small.stored)),
            Some(&r.fill_small),
        ),
        (
            format!(
                "to {}",
                thousands(r.fill_large.as_ref().map_or(0, |f| f.stored))
            ),
            r.fill_large.as_ref(),
        ),
    ] {
        if let Some(fl) = fill {
            let _ = writeln!(
                out,
                "| {name} | {} | {:.1} | {:.1} |",
                thousands(fl.appended),
                fl.publish_secs,
                fl.materialised_secs
            );
        }
    }
    if let Some(c) = &r.catch_up {
        let _ = writeln!(
            out,
            "\nCatch-up: replica {} (a follower) was stopped with SIGTERM, {} orders were appended \
             (the log then held {}), and it was restarted; {:.2} s passed from the restart (process \
             start included) until its `order.replica.{}.digest` count matched, and its hash then \
             {} the other replicas'.",
            c.replica,
            thousands(c.missed),
            thousands(c.target),
            c.secs,
            c.replica,
            if c.identical { "equalled" } else { "DIFFERED from" }
        );
    }
}

/// Resident memory of every process, idle after start and after all the load.
pub(super) fn memory(out: &mut String, r: &Results) {
    let _ = writeln!(out, "\n## Memory\n");
    let _ = writeln!(
        out,
        "`VmRSS` from `/proc/PID/status`, read {} s after the system went quiet. nats-server is \
         not one of our services; it is shown for scale.\n",
        3
    );
    memory_table(out, &r.memory_idle, &r.memory_after);
}

fn memory_table(out: &mut String, idle: &[Memory], after: &[Memory]) {
    table_head(
        out,
        &[
            "process",
            "idle after start (MB)",
            "idle after all the load (MB)",
        ],
    );
    for m in idle {
        let later = after
            .iter()
            .find(|a| a.service == m.service)
            .map_or("-".to_string(), |a| format!("{:.1}", mb(a.rss_kib)));
        let _ = writeln!(out, "| {} | {:.1} | {} |", m.service, mb(m.rss_kib), later);
    }
}
