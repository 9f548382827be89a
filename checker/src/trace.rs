//! Where a check's time goes: with `RUBBER_CRAB_TRACE=1`, each check prints one line to stderr
//! with the wall time of its phases (sandbox, cage, guard snapshots, the runtime's own run...).
//!
//! ```text
//! RUBBER_CRAB_TRACE=1 cargo run -q -p checker -- level3 --solution 2>&1 >/dev/null | grep '^trace'
//! ```
//!
//! Phases nest (the runtime's run is inside the check's body), so they do not add up to the
//! total; a phase entered several times shows its sum and count (`spawn 12 ms ×3`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
static PHASES: Mutex<Vec<(&'static str, Duration, u32)>> = Mutex::new(Vec::new());
thread_local! {
    /// Whether this thread runs a check: the phases are the check's thread's (the cleaner's
    /// work, on its own thread, overlaps the next check and is not its).
    static IN_CHECK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Whether `RUBBER_CRAB_TRACE` is set (to anything but `0` or empty).
pub fn enabled() -> bool {
    *ENABLED
        .get_or_init(|| std::env::var("RUBBER_CRAB_TRACE").is_ok_and(|v| !v.is_empty() && v != "0"))
}

/// Times the phase `name` until the returned value is dropped.
#[must_use]
pub fn span(name: &'static str) -> Span {
    Span {
        name,
        began: enabled().then(Instant::now),
    }
}

pub struct Span {
    name: &'static str,
    began: Option<Instant>,
}

impl Drop for Span {
    fn drop(&mut self) {
        let Some(began) = self.began else { return };
        if !IN_CHECK.with(|c| c.get()) {
            return;
        }
        let took = began.elapsed();
        if let Ok(mut phases) = PHASES.lock() {
            match phases.iter_mut().find(|p| p.0 == self.name) {
                Some(p) => {
                    p.1 += took;
                    p.2 += 1;
                }
                None => phases.push((self.name, took, 1)),
            }
        }
    }
}

/// A check begins: phases from now on are its.
pub fn begin_check() {
    if enabled() {
        STARTED.get_or_init(Instant::now);
        if let Ok(mut phases) = PHASES.lock() {
            phases.clear();
        }
        IN_CHECK.with(|c| c.set(true));
    }
}

/// The check `id` ended after `total`: prints its line.
pub fn end_check(id: &str, total: Duration) {
    if !enabled() {
        return;
    }
    IN_CHECK.with(|c| c.set(false));
    let phases = PHASES.lock().map(|p| p.clone()).unwrap_or_default();
    let text: Vec<String> = phases
        .iter()
        .map(|(name, took, count)| match count {
            1 => format!("{name} {:.1}", ms(*took)),
            n => format!("{name} {:.1}×{n}", ms(*took)),
        })
        .collect();
    let at = STARTED.get().map_or(Duration::ZERO, Instant::elapsed);
    eprintln!(
        "trace {id} {:.1} ms (ends at {:.0} ms): {}",
        ms(total),
        ms(at),
        text.join(", ")
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
