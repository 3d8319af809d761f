//! Phase timings on stderr when `SPANLENS_TIMINGS=1` is set: how long each
//! stage of a run took, for profiling and `benches/RESULTS.md`. Off by
//! default; costs one environment lookup per phase.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SPANLENS_TIMINGS").is_some_and(|v| v != "0"))
}

/// `SPANLENS_TIMINGS=queries`: the local engine runs a batch's queries one
/// at a time and times each (profiling only; batches are faster together).
pub fn per_query() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SPANLENS_TIMINGS").is_some_and(|v| v == "queries"))
}

/// Prints `phase NAME: SECONDS` when dropped (if timings are enabled).
pub struct Phase {
    name: &'static str,
    start: Instant,
}

pub fn phase(name: &'static str) -> Phase {
    Phase {
        name,
        start: Instant::now(),
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if enabled() {
            eprintln!(
                "spanlens: timing: {:<14} {:>8.3} s  rss {} MiB, peak {} MiB",
                self.name,
                self.start.elapsed().as_secs_f64(),
                status_kib("VmRSS:") / 1024,
                status_kib("VmHWM:") / 1024,
            );
        }
    }
}

/// A `/proc/self/status` field in KiB (0 where there is no procfs).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
