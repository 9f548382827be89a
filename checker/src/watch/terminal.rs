//! Key mode: the terminal sends single keys, unechoed, through crossterm's raw mode. It gets its
//! settings back on every way out of watch mode (q, Ctrl-C, SIGTERM, an error, a panic: the
//! guard's drop), and while watch mode is stopped: Ctrl-Z gives the shell its terminal back, `fg`
//! brings single keys back.
//!
//! Raw mode goes one step too far for watch mode: the checks run on this same terminal, so two
//! settings come back on top of it. Signals (ISIG): Ctrl-C must still interrupt the whole
//! foreground group, the running checks included, and Ctrl-Z still stop it. Output processing
//! (OPOST): the checks' "\n" must still return the carriage.

use anyhow::{Context, Result};
use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, OutputFlags, SetArg};
use signal_hook::consts::SIGTSTP;
use signal_hook::iterator::{Handle, Signals};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::thread::{self, JoinHandle};

/// The terminal in key mode while alive.
pub struct KeyMode {
    job_control: Option<JobControl>,
}

impl KeyMode {
    /// None when stdin is not a terminal: then there are no keys, only Ctrl-C.
    pub fn enter() -> Result<Option<Self>> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        // Built first, so that a failure half-way still gives the terminal back.
        let mut mode = Self { job_control: None };
        enter().context("setting the terminal to read single keys")?;
        mode.job_control = Some(JobControl::start()?);
        Ok(Some(mode))
    }
}

impl Drop for KeyMode {
    fn drop(&mut self) {
        // Ctrl-Z handling ends first: no `fg` may bring key mode back once it is left.
        self.job_control.take();
        // Nothing more to do when the terminal is gone.
        let _ = leave();
    }
}

/// Single keys, no echo; signals and output as before.
fn enter() -> Result<()> {
    crossterm::terminal::enable_raw_mode()?;
    // crossterm switched stdin's terminal: watch mode only enters key mode when stdin is one.
    keep_signals_and_output(std::io::stdin())?;
    Ok(())
}

/// The settings the terminal had before `enter`.
fn leave() -> Result<()> {
    crossterm::terminal::disable_raw_mode()?;
    Ok(())
}

fn keep_signals_and_output(terminal: impl AsFd) -> nix::Result<()> {
    let mut modes = tcgetattr(&terminal)?;
    modes.local_flags |= LocalFlags::ISIG;
    modes.output_flags |= OutputFlags::OPOST;
    tcsetattr(&terminal, SetArg::TCSANOW, &modes)
}

/// Ctrl-Z (SIGTSTP) handled on a thread of its own (signal-hook's iterator), so what it does is
/// ordinary code, not a signal handler.
struct JobControl {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

impl JobControl {
    fn start() -> Result<Self> {
        let mut signals = Signals::new([SIGTSTP]).context("catching Ctrl-Z")?;
        let handle = signals.handle();
        let thread = thread::spawn(move || {
            for _ in signals.forever() {
                stop_with_the_terminal_given_back();
            }
        });
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }
}

/// The shell's settings back, then stop as if nothing caught Ctrl-Z; `fg` continues the process
/// here, and single keys come back.
fn stop_with_the_terminal_given_back() {
    // A terminal that is gone needs no settings; the stop matters either way.
    let _ = leave();
    let _ = signal_hook::low_level::emulate_default_handler(SIGTSTP);
    let _ = enter();
}

impl Drop for JobControl {
    fn drop(&mut self) {
        // Joined, so that no Ctrl-Z or fg is under way when the terminal gets its settings back.
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::termios::cfmakeraw;

    #[test]
    fn single_keys_without_echo_and_ctrl_c_still_a_signal() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let cooked = tcgetattr(&pty.slave).unwrap();
        assert!(cooked
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO));
        // What crossterm's raw mode does (rustix's make_raw is cfmakeraw).
        let mut raw = cooked.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &raw).unwrap();

        keep_signals_and_output(&pty.slave).unwrap();
        let keys = tcgetattr(&pty.slave).unwrap();
        assert!(
            !keys.local_flags.contains(LocalFlags::ICANON),
            "single keys"
        );
        assert!(!keys.local_flags.contains(LocalFlags::ECHO), "no echo");
        assert!(
            keys.local_flags.contains(LocalFlags::ISIG),
            "Ctrl-C, Ctrl-Z"
        );
        assert!(
            keys.output_flags.contains(OutputFlags::OPOST),
            "\\n is a new line"
        );
    }
}
