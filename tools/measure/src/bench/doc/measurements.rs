//! The measured sections of the performance document: the floors, every wrk run and the
//! reference workload.

use super::super::results::{Measured, Results};
use crate::doc::table_head;
use crate::doc::thousands;
use std::fmt::Write as _;

/// The floors table and whether the broker syncs its appends.
pub(super) fn floors(out: &mut String, r: &Results) {
    let f = &r.floors;
    let _ = writeln!(out, "\n## Floors\n");
    table_head(
        out,
        &["floor", "how", "p50 (us)", "p90", "p99", "max", "rate (/s)"],
    );
    for h in [&f.http_one, &f.http_many] {
        let _ = writeln!(
            out,
            "| bare axum handler, same JSON as a lookup | wrk -t{} -c{} | {} | {} | {} | {} | {:.0} |",
            h.threads,
            h.connections,
            h.run.p50_us,
            h.run.p90_us,
            h.run.p99_us,
            h.run.max_us,
            h.run.rate_per_s()
        );
    }
    for (name, how, l) in [
        (
            "NATS request-reply, tiny JSON",
            "responder in-process, sequential",
            &f.nats,
        ),
        (
            "redb commit, `Durability::Immediate`",
            "one 120-byte record per commit, sequential, temp dir",
            &f.redb,
        ),
        (
            "JetStream append, awaited until acknowledged",
            "order-sized record, file stream on the system's broker, sequential",
            &f.js_append,
        ),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {how} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            l.p50_us, l.p90_us, l.p99_us, l.max_us, l.rate_per_s
        );
    }

    let _ = writeln!(
        out,
        "\nThe system's broker {} every append before acknowledging it (its `/varz` reports \
         `jetstream.config.sync_always: {}`).",
        if f.broker_sync_always {
            "syncs"
        } else {
            "does NOT sync"
        },
        f.broker_sync_always
    );
}

/// Every wrk measurement, floors and system alike, in one table.
pub(super) fn wrk_runs(out: &mut String, r: &Results) {
    let f = &r.floors;
    let _ = writeln!(out, "\n## Every wrk measurement\n");
    let _ = writeln!(
        out,
        "Latencies in microseconds as wrk reports them (client side, including wrk itself, which \
         shares the two cores). Failures are non-2xx answers and socket errors.\n"
    );
    table_head(
        out,
        &[
            "what",
            "request",
            "wrk -t / -c",
            "p50",
            "p90",
            "p99",
            "max",
            "req/s",
            "failures",
        ],
    );
    for mm in [
        &f.http_one,
        &f.http_many,
        &r.cached_one,
        &r.cached_many,
        &r.uncached_one,
        &r.uncached_many,
        &r.query_small,
        &r.trade_one,
        &r.trade_many,
    ] {
        row(out, mm);
    }
    if let Some(q) = &r.query_large {
        row(out, q);
    }
    let _ = writeln!(
        out,
        "\nThe cached frontend runs with `--cache-size 5`, the uncached one with `--cache-size 0`; \
         both are the release `bazaar-frontend`, on the same broker, catalog and order replicas. \
         Order queries go to the first frontend and hit random numbers among those stored ({} \
         for the small history). Trades alternate sell and buy of one share, cycling through the \
         stocks, so none is refused for want of shares.",
        r.fill_small.stored
    );
}

/// The reference workload's run of `bazaar-client`, when it was made.
pub(super) fn reference_workload(out: &mut String, r: &Results) {
    if let Some(c) = &r.client {
        let _ = writeln!(out, "\n## Reference workload (bazaar-client)\n");
        let _ = writeln!(
            out,
            "`bazaar-client` as a library: {} clients, p = 1 (each iteration looks a stock up, \
             then trades it), {:.0} s, then every acknowledged order fetched back and compared.\n",
            c.clients, c.load_secs
        );
        table_head(
            out,
            &[
                "request", "count", "p50 (us)", "p90", "p99", "max", "per s", "errors",
            ],
        );
        for (name, k) in [
            ("trade", &c.trade),
            ("lookup", &c.lookup),
            ("order query", &c.order_query),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {:.0} | {} |",
                k.count,
                k.p50_us,
                k.p90_us,
                k.p99_us,
                k.max_us,
                k.throughput_per_s,
                if k.errors.is_empty() {
                    "none".to_string()
                } else {
                    k.errors
                        .iter()
                        .map(|(kind, n)| format!("{kind}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        let _ = writeln!(
            out,
            "\n{} orders acknowledged, {} read back identical, {} mismatches. A 409 is a buy refused \
             for want of shares (the client trades random quantities), not a fault.",
            thousands(c.acknowledged),
            thousands(c.verified),
            c.mismatches
        );
    }
}

fn row(out: &mut String, m: &Measured) {
    let r = &m.run;
    let _ = writeln!(
        out,
        "| {} | `{}` | {} / {} | {} | {} | {} | {} | {:.0} | {} |",
        m.what,
        m.request,
        m.threads,
        m.connections,
        r.p50_us,
        r.p90_us,
        r.p99_us,
        r.max_us,
        r.rate_per_s(),
        r.failures()
    );
}
