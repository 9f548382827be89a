//! Ctrl-C and `kill` (SIGINT, SIGTERM) end watch mode through its normal path, which gives the
//! terminal back; Ctrl-Z (SIGTSTP) gives the shell its terminal back, then stops as usual, and
//! `fg` brings single keys back.
//!
//! signal-hook delivers the signals to a thread of their own, so what a signal does is ordinary
//! code, not a signal handler. Children get the default handling back when they exec, so Ctrl-C
//! still stops a running check as usual.

use super::terminal;
use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use signal_hook::consts::{SIGINT, SIGTERM, SIGTSTP};
use signal_hook::iterator::{Handle, Signals};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Which signal asked watch mode to stop, if one did.
#[derive(Clone, Default)]
pub struct Interruption(Arc<AtomicI32>);

impl Interruption {
    pub fn signal(&self) -> Option<Signal> {
        Signal::try_from(self.0.load(Ordering::SeqCst)).ok()
    }

    fn record(&self, signal: i32) {
        self.0.store(signal, Ordering::SeqCst);
    }
}

/// The signals watch mode handles, while alive.
pub struct Caught {
    interruption: Interruption,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl Caught {
    /// Catches Ctrl-C and SIGTERM; with `key_mode` (the terminal is in key mode), Ctrl-Z too.
    pub fn catch(key_mode: bool) -> Result<Self> {
        let mut wanted = vec![SIGINT, SIGTERM];
        if key_mode {
            wanted.push(SIGTSTP);
        }
        let mut signals = Signals::new(&wanted).context("catching Ctrl-C, Ctrl-Z and SIGTERM")?;
        let handle = signals.handle();
        let interruption = Interruption::default();
        let recorder = interruption.clone();
        let thread = thread::spawn(move || {
            for signal in signals.forever() {
                match signal {
                    SIGTSTP => stop_with_the_terminal_given_back(),
                    signal => recorder.record(signal),
                }
            }
        });
        Ok(Self {
            interruption,
            handle,
            thread: Some(thread),
        })
    }

    /// What the loop looks at between ticks.
    pub fn interruption(&self) -> Interruption {
        self.interruption.clone()
    }
}

/// Ctrl-Z: the shell's settings back, then stop as if nothing caught the signal; `fg` continues
/// the process here, and single keys come back.
fn stop_with_the_terminal_given_back() {
    // A terminal that is gone needs no settings; the stop matters either way.
    let _ = terminal::leave();
    let _ = signal_hook::low_level::emulate_default_handler(SIGTSTP);
    let _ = terminal::enter();
}

impl Drop for Caught {
    fn drop(&mut self) {
        // Joined, so that no Ctrl-Z or fg is under way when the terminal gets its settings back.
        // The signals stay caught (and now ignored) until the process exits, right after.
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
