//! Ctrl-C and `kill` (SIGINT, SIGTERM) end watch mode through its normal path, which gives the
//! terminal back: caught first and given back last, around everything else watch mode sets up.
//! (Ctrl-Z and `fg` are the terminal's business: `terminal.rs`.)
//!
//! signal-hook's handler only records which signal came; the loop looks between ticks. Children
//! get the default handling back when they exec, so Ctrl-C still stops a running check as usual.

use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Which signal asked watch mode to stop, if one did.
#[derive(Clone, Default)]
pub struct Interruption(Arc<AtomicUsize>);

impl Interruption {
    pub fn signal(&self) -> Option<Signal> {
        let number = self.0.load(Ordering::SeqCst);
        Signal::try_from(i32::try_from(number).ok()?).ok()
    }
}

/// Ctrl-C and SIGTERM caught while alive.
pub struct Interrupts {
    interruption: Interruption,
    caught: Vec<SigId>,
}

impl Interrupts {
    pub fn catch() -> Result<Self> {
        // Built first, so that a failure half-way still lets go of what was caught.
        let mut interrupts = Self {
            interruption: Interruption::default(),
            caught: Vec::new(),
        };
        for signal in [SIGINT, SIGTERM] {
            let flag = interrupts.interruption.0.clone();
            // The value stored is the signal's number (2 or 15).
            let id = signal_hook::flag::register_usize(signal, flag, signal as usize)
                .with_context(|| format!("catching signal {signal}"))?;
            interrupts.caught.push(id);
        }
        Ok(interrupts)
    }

    /// What the loop looks at between ticks.
    pub fn interruption(&self) -> Interruption {
        self.interruption.clone()
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        // Ignored, not the default, from here until the process exits (right after): signal-hook
        // keeps its handler installed.
        for id in self.caught.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_signal_is_remembered_by_its_number() {
        let interruption = Interruption::default();
        assert_eq!(interruption.signal(), None);
        interruption.0.store(15, Ordering::SeqCst);
        assert_eq!(interruption.signal(), Some(Signal::SIGTERM));
    }
}
