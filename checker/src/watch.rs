//! `checker watch levelN`: re-check a level every time one of its files is saved.
//!
//! The loop (this file): run the checks (the checker itself, as a child process), then wait for a
//! change under `levels/<dir>/src/` or to its `Cargo.toml`, or for a key (h: next hint, r or
//! Enter: re-run, q: quit), and go again. One job per file beside it:
//! - `target`: the level, and the commands that check it;
//! - `state`: what was asked for and not done yet;
//! - `files`: which of the level's files count;
//! - `changes`: noticing changes with inotify, `poll`: by comparing snapshots (`--poll`, or when
//!   inotify is unavailable);
//! - `keys`: reading keys with crossterm, `terminal`: key mode, and the terminal given back (on
//!   the way out, and around Ctrl-Z and fg);
//! - `signals`: Ctrl-C and SIGTERM.
//!
//! Without a terminal nobody is watching: the checks run once and stderr says why.

mod changes;
mod files;
mod keys;
mod poll;
mod signals;
mod state;
mod target;
mod terminal;

use crate::exit;
use anyhow::{Context, Result};
use colored::Colorize;
use keys::KeyReader;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use signals::{Interruption, Interrupts};
use state::{Input, Key, Mode, Pending, Trigger};
use std::io::{IsTerminal, Write};
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};
use target::Target;
use terminal::KeyMode;

/// Editors save in several steps (write a temp file, rename, chmod…): wait this long after the
/// first event so that one save is one run.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How often the loop looks for Ctrl-C while it waits.
const TICK: Duration = Duration::from_millis(100);
const CLEAR_SCREEN: &str = "\x1b[2J\x1b[H";

/// Watches level `level`'s files and re-checks the level on every change until `q` or Ctrl-C.
/// `poll` compares snapshots instead of using inotify; `rootless` checks with `--rootless`. Returns
/// the exit code: the last run's, or 128 + the signal when interrupted.
pub fn watch(level: u32, poll: bool, rootless: bool) -> Result<u8> {
    let target = Target::new(level, rootless)?;
    if !std::io::stdout().is_terminal() {
        return target.run_once();
    }
    crate::report::set_colour(true);
    let (sender, inputs) = mpsc::channel();
    // Locals drop in reverse order: the watcher and the key reader stop first, then the terminal
    // gets its settings back, and only then are Ctrl-C and SIGTERM let go.
    let interrupts = Interrupts::catch()?;
    let key_mode = KeyMode::enter()?;
    let _keys = key_mode.as_ref().map(|_| KeyReader::start(sender.clone()));
    let (_watcher, mode) = changes::start_watching(&target.dir, poll, sender);
    Session {
        keys: key_mode.is_some(),
        target,
        inputs,
        mode,
        interruption: interrupts.interruption(),
        runs: 0,
        last_code: exit::PASSED,
    }
    .run()
}

/// The interactive loop: run, wait, run again.
struct Session {
    target: Target,
    inputs: Receiver<Input>,
    /// Whether keys are read (stdin is a terminal).
    keys: bool,
    mode: Mode,
    interruption: Interruption,
    runs: u32,
    last_code: u8,
}

impl Session {
    fn run(mut self) -> Result<u8> {
        let mut pending = Pending::default();
        self.check(Trigger::Start, &mut pending)?;
        loop {
            if pending.changes.is_some() {
                self.settle(&mut pending);
            }
            if let Some(signal) = self.interruption.signal() {
                println!();
                return Ok(128 + signal as u8);
            }
            if pending.quit {
                return Ok(self.last_code);
            }
            if let Some(trigger) = pending.take_run() {
                self.check(trigger, &mut pending)?;
            } else if std::mem::take(&mut pending.hint) {
                self.hint(&mut pending)?;
            } else {
                self.wait(&mut pending);
            }
        }
    }

    /// Waits one tick for an input.
    fn wait(&self, pending: &mut Pending) {
        match self.inputs.recv_timeout(TICK) {
            Ok(input) => pending.add(input),
            Err(RecvTimeoutError::Timeout) => {}
            // Nothing can send any more (no keys, watcher gone): only Ctrl-C is left to wait for.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(TICK),
        }
    }

    /// The debounce: an editor's save is a burst of events, so collect the whole burst.
    fn settle(&self, pending: &mut Pending) {
        let deadline = Instant::now() + DEBOUNCE;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.inputs.recv_timeout(left) {
                Ok(input) => pending.add(input),
                Err(_) => break,
            }
        }
    }

    /// One run of the checks on a clear screen, then what its exit code means.
    fn check(&mut self, trigger: Trigger, pending: &mut Pending) -> Result<()> {
        self.runs += 1;
        print!("{CLEAR_SCREEN}");
        println!("{}", self.header().bold());
        let status = self.supervise(self.target.checks(), pending)?;
        if self.interruption.signal().is_some() {
            return Ok(());
        }
        self.last_code = exit::of_status(status);
        let mark = if self.last_code == exit::PASSED {
            "✓".green()
        } else {
            "✗".red()
        };
        println!(
            "\n── {mark} {} (exit {}) · run {}, {}",
            exit::meaning(self.last_code),
            self.last_code,
            self.runs,
            trigger.describe()
        );
        self.print_waiting();
        Ok(())
    }

    /// `checker hint levelN`, under the results.
    fn hint(&mut self, pending: &mut Pending) -> Result<()> {
        println!("\n{}", "── hint".bold());
        let status = self.supervise(self.target.hint(), pending)?;
        if self.interruption.signal().is_some() {
            return Ok(());
        }
        if !status.success() {
            println!(
                "(`checker hint level{}` ended with {status})",
                self.target.number
            );
        }
        self.print_waiting();
        Ok(())
    }

    /// Runs a child to its end while still taking inputs: changes and keys that arrive meanwhile
    /// are kept in `pending` and acted on after it ends.
    fn supervise(&self, mut command: Command, pending: &mut Pending) -> Result<ExitStatus> {
        flush_stdout();
        let mut child = command
            .spawn()
            .with_context(|| format!("running {}", self.target.checker.display()))?;
        loop {
            if let Some(status) = child.try_wait().context("waiting for the checker")? {
                return Ok(status);
            }
            if let Some(signal) = self.interruption.signal() {
                // Ctrl-C reached the child too (same process group), but a `kill` may have been
                // sent to watch mode alone: pass it on, then let the child end its own way.
                let _ = kill(Pid::from_raw(child.id() as i32), signal);
                return child.wait().context("waiting for the checker");
            }
            match self.inputs.recv_timeout(TICK) {
                Ok(Input::Key(Key::Quit)) if !pending.quit => {
                    // Stopping the checks half-way is Ctrl-C's job: q lets them finish cleanly.
                    pending.quit = true;
                    eprintln!("\nq: quitting when this run ends (Ctrl-C stops it now)");
                }
                Ok(input) => pending.add(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => thread::sleep(TICK),
            }
        }
    }

    fn header(&self) -> String {
        let keys = if self.keys {
            "h: next hint · r: re-run · q: quit"
        } else {
            "Ctrl-C: quit"
        };
        format!("watching {} — {keys}", self.target.shown)
    }

    fn print_waiting(&mut self) {
        let how = self.mode.footer();
        println!("waiting for changes to {}/…{how}", self.target.shown);
        flush_stdout();
    }
}

fn flush_stdout() {
    // Nothing useful to do if the terminal is gone; the next write will fail the same way.
    let _ = std::io::stdout().flush();
}
