//! Section 2 of the evaluation: the cache's contents over a paced run.

use super::super::Results;
use std::fmt::Write as _;

/// What the sampled run did to the cache, and the timeline plot.
pub(super) fn section(out: &mut String, r: &Results) {
    let t = &r.timeline;
    let c = &r.config;
    let _ = writeln!(out, "## 2. Cache replacement in action\n");
    let first = t
        .samples
        .first()
        .map(|s| s.stats.clone())
        .unwrap_or_default();
    let last = t
        .samples
        .last()
        .map(|s| s.stats.clone())
        .unwrap_or_default();
    let d = last.since(&first);
    let most = t
        .samples
        .iter()
        .map(|s| s.stats.entries.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "{} clients for {:.0} s at p = {}, pausing {} ms after each iteration so that \
         replacements can be followed, while `GET /cache` was read every {} ms ({} readings). \
         Each row is a stock; a bar means it was cached at that reading, darker when more \
         recently used (the cache lists entries in LRU order). Between the first and the last \
         reading: {} hits, {} misses (hit ratio {}), {} evictions, {} invalidations by trades. \
         The cache never held more than {} entries (capacity {}).\n",
        c.timeline_clients,
        c.timeline_secs,
        c.timeline_p,
        c.timeline_think_ms,
        t.period_ms,
        t.samples.len(),
        d.hits,
        d.misses,
        d.hit_ratio()
            .map_or("-".into(), |h| format!("{:.0}%", h * 100.0)),
        d.evictions,
        d.invalidations,
        most,
        t.cache_size
    );
    let _ = writeln!(
        out,
        "A stock that is looked up while absent enters at the top (a miss); once the cache is \
         full that pushes out the least recently used one (an eviction), and a trade on a cached \
         stock removes its entry (an invalidation), which is why rows have gaps even while the \
         cache is not full.\n"
    );
    let _ = writeln!(out, "![cache timeline](eval/cache-timeline.svg)\n");
}
