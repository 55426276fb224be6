//! Section 1 of the evaluation: latency against trade probability, cache on and off.

use super::super::sweep::SweepPoint;
use super::super::Results;
use super::{failures, ms};
use crate::doc::table_head;
use bazaar_client::{Kind, KindSummary};
use std::fmt::Write as _;

/// The sweep's table, what the cache saved, and its plots.
pub(super) fn section(out: &mut String, r: &Results) {
    let c = &r.config;
    let _ = writeln!(
        out,
        "## 1. Latency against trade probability, cache on and off\n"
    );
    let _ = writeln!(
        out,
        "{} clients, {} iterations each per p (the same seed at every p), on two systems side \
         by side, one with a cache of {} stocks and one with the cache off, taking turns at each \
         p (after an unmeasured warm-up of {} iterations per client). The catalog holds {} \
         stocks. The clients run closed-loop (each sends its next request as soon as the last \
         answer arrives) on the same cores as the services.\n",
        c.sweep_clients,
        c.sweep_iterations,
        c.cache_size,
        c.warmup_iterations,
        r.sweep.first().map_or(0, |p| p.report.stocks)
    );
    table(out, r);
    let _ = writeln!(out);
    cache_savings(out, r);
    for kind in Kind::ALL {
        let _ = writeln!(
            out,
            "![{} latency against p](eval/sweep-{}.svg)\n",
            kind.name(),
            kind.name()
        );
    }
}

/// One row per p and cache setting: the latencies, rates, hit ratio and failures.
fn table(out: &mut String, r: &Results) {
    table_head(
        out,
        &[
            "p",
            "cache",
            "lookup p50",
            "lookup p99",
            "trade p50",
            "trade p99",
            "order query p50",
            "order query p99",
            "lookups/s",
            "trades/s",
            "hit ratio",
            "failed requests",
            "mismatches",
        ],
    );
    for pt in &r.sweep {
        let rep = &pt.report;
        let q = |s: &KindSummary, us: u64| if s.count == 0 { "-".into() } else { ms(us) };
        let failed: u64 = Kind::ALL
            .iter()
            .flat_map(|k| failures(rep.kind(*k)))
            .map(|(_, n)| n)
            .sum();
        let _ = writeln!(
            out,
            "| {:.1} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} | {} |",
            pt.p,
            if pt.cache_size > 0 { "on" } else { "off" },
            q(&rep.lookup, rep.lookup.p50_us),
            q(&rep.lookup, rep.lookup.p99_us),
            q(&rep.trade, rep.trade.p50_us),
            q(&rep.trade, rep.trade.p99_us),
            q(&rep.order_query, rep.order_query.p50_us),
            q(&rep.order_query, rep.order_query.p99_us),
            rep.lookup.throughput_per_s,
            rep.trade.throughput_per_s,
            pt.cache
                .hit_ratio()
                .filter(|_| pt.cache_size > 0)
                .map_or("-".into(), |h| format!("{:.0}%", h * 100.0)),
            failed,
            rep.mismatches + rep.unverified,
        );
    }
}

/// The median lookup with and without the cache at each p, and why the hit ratio falls.
fn cache_savings(out: &mut String, r: &Results) {
    let _ = writeln!(out, "### How much the cache saves\n");
    let pairs: Vec<(&SweepPoint, &SweepPoint)> = r
        .sweep
        .iter()
        .filter(|a| a.cache_size > 0)
        .filter_map(|on| {
            r.sweep
                .iter()
                .find(|off| off.cache_size == 0 && off.p == on.p)
                .map(|off| (on, off))
        })
        .collect();
    for (on, off) in &pairs {
        let (a, b) = (on.report.lookup.p50_us, off.report.lookup.p50_us);
        let saved = b as f64 - a as f64;
        let _ = writeln!(
            out,
            "- p = {:.1}: median lookup {} with the cache, {} without: {} {:.3} ms ({:.0}%), at a \
             hit ratio of {}.",
            on.p,
            ms(a),
            ms(b),
            if saved >= 0.0 { "saves" } else { "costs" },
            saved.abs() / 1000.0,
            (saved.abs() / b.max(1) as f64) * 100.0,
            on.cache
                .hit_ratio()
                .map_or("-".into(), |h| format!("{:.0}%", h * 100.0)),
        );
    }
    if let (Some((first, _)), Some((last, _))) = (pairs.first(), pairs.last()) {
        let hit = |pt: &SweepPoint| {
            pt.cache
                .hit_ratio()
                .map_or("-".into(), |h| format!("{:.0}%", h * 100.0))
        };
        let _ = writeln!(
            out,
            "\nA hit is answered by the frontend alone; a miss costs a NATS round trip to the \
             catalog and its read. With {} stocks chosen uniformly and room for {}, only about \
             {:.0}% of the lookups can hit even without trades, and a trade on a cached stock \
             invalidates its entry, so the hit ratio falls as p grows ({} at p = {:.1}, {} at \
             p = {:.1}).\n",
            first.report.stocks,
            first.cache_size,
            100.0 * (first.cache_size as f64 / first.report.stocks.max(1) as f64).min(1.0),
            hit(first),
            first.p,
            hit(last),
            last.p,
        );
    }
    if r.sweep.iter().any(|pt| pt.p == 0.0) {
        let _ = writeln!(
            out,
            "At p = 0 nothing trades, so the trade and order query plots start at the next p.\n"
        );
    }
}
