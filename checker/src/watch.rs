//! `checker watch levelN`: re-check a level every time one of its files is saved.
//!
//! The loop: run the checks (the checker itself, as a child process), then wait for a change
//! under `levels/<dir>/src/` or to its `Cargo.toml`, or for a key (h: next hint, r or Enter:
//! re-run, q: quit), and go again. Changes come from inotify (the `notify` crate) or, with
//! `--poll` or when inotify is unavailable, from comparing snapshots of the files every 500 ms.
//! Without a terminal nobody is watching: the checks run once and stderr says why.

use crate::exit;
use anyhow::{Context, Result};
use colored::Colorize;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::Pid;
use notify::event::{EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

/// Editors save in several steps (write a temp file, rename, chmod…): wait this long after the
/// first event so that one save is one run.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How often `--poll` compares snapshots of the level's files.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How often the loop looks for Ctrl-C, and the key reader for its stop flag.
const TICK: Duration = Duration::from_millis(100);
const CLEAR_SCREEN: &str = "\x1b[2J\x1b[H";

/// Watches level `level`'s files and re-checks the level on every change until `q` or Ctrl-C.
/// `poll` compares snapshots instead of using inotify; `rootless` checks with `--rootless`. Returns
/// the exit code: the last run's, or 128 + the signal when interrupted.
pub fn watch(level: u32, poll: bool, rootless: bool) -> Result<u8> {
    let target = Target::new(level, rootless)?;
    if !std::io::stdout().is_terminal() {
        return run_once(&target);
    }
    crate::report::set_colour(true);
    let (sender, inputs) = mpsc::channel();
    // Locals drop in reverse order: the watcher and the key reader stop first, then the terminal
    // gets its settings back, and only then the default Ctrl-C comes back.
    let _interrupts = Interrupts::catch()?;
    let terminal = RawTerminal::enter()?;
    let _keys = terminal.as_ref().map(|_| KeyReader::start(sender.clone()));
    let (_watcher, mode) = start_watching(&target.dir, poll, sender);
    Session {
        keys: terminal.is_some(),
        target,
        inputs,
        mode,
        runs: 0,
        last_code: exit::PASSED,
    }
    .run()
}

/// The level being watched, and how to run the checker on it.
struct Target {
    number: u32,
    /// `levels/03-pivot-root`, as the learner knows it.
    shown: String,
    dir: PathBuf,
    checker: PathBuf,
    /// Check with `--rootless`.
    rootless: bool,
}

impl Target {
    fn new(number: u32, rootless: bool) -> Result<Self> {
        let level = kit::ladder::level(number)
            .with_context(|| format!("level{number} is not on the ladder"))?;
        let shown = format!("levels/{}", level.dir);
        let dir = kit::paths::workspace_root().join(&shown);
        anyhow::ensure!(
            dir.is_dir(),
            "{} does not exist: watch mode needs the rubber-crab workspace this checker was built in",
            dir.display()
        );
        let checker = std::env::current_exe()
            .context("finding the checker's own executable, to run the checks with it")?;
        Ok(Self {
            number,
            shown,
            dir,
            checker,
            rootless,
        })
    }

    /// `checker <args>`, with stdin closed: the keys belong to watch mode.
    fn checker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.checker);
        command.args(args).stdin(Stdio::null());
        command
    }

    fn checks(&self) -> Command {
        let level = format!("level{}", self.number);
        if self.rootless {
            self.checker(&[&level, "--rootless"])
        } else {
            self.checker(&[&level])
        }
    }

    fn hint(&self) -> Command {
        self.checker(&["hint", &format!("level{}", self.number)])
    }
}

/// No terminal (a pipe, CI): nobody would see the re-runs, so run the checks once.
fn run_once(target: &Target) -> Result<u8> {
    let status = target
        .checks()
        .status()
        .with_context(|| format!("running {}", target.checker.display()))?;
    eprintln!(
        "checker watch: stdout is not a terminal, so this ran the checks once instead of watching \
         (run it in a terminal to re-check on every save)"
    );
    Ok(exit_code(status))
}

/// What the loop reacts to.
#[derive(Debug)]
enum Input {
    /// Watched files changed (relative to the level's directory; empty when unknown which).
    Changed(Vec<PathBuf>),
    Key(Key),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Hint,
    Rerun,
    Quit,
}

impl Key {
    fn from_byte(byte: u8) -> Option<Key> {
        match byte {
            b'h' | b'H' => Some(Key::Hint),
            b'r' | b'R' | b'\n' | b'\r' => Some(Key::Rerun),
            b'q' | b'Q' => Some(Key::Quit),
            _ => None,
        }
    }
}

/// What has been asked for and not done yet.
#[derive(Debug, Default)]
struct Pending {
    /// Some once a change was seen: the files that changed since the last run.
    changes: Option<BTreeSet<PathBuf>>,
    rerun: bool,
    hint: bool,
    quit: bool,
}

impl Pending {
    fn add(&mut self, input: Input) {
        match input {
            Input::Changed(paths) => self.changes.get_or_insert_with(BTreeSet::new).extend(paths),
            Input::Key(Key::Rerun) => self.rerun = true,
            Input::Key(Key::Hint) => self.hint = true,
            Input::Key(Key::Quit) => self.quit = true,
        }
    }

    /// Why to run the checks now, if anything asked for a run. However many changes and keys
    /// came in, that is one run.
    fn take_run(&mut self) -> Option<Trigger> {
        let rerun = std::mem::take(&mut self.rerun);
        match self.changes.take() {
            Some(paths) => Some(Trigger::Changes(paths)),
            None => rerun.then_some(Trigger::Key),
        }
    }
}

/// Why a run happened, for its footer.
enum Trigger {
    Start,
    Key,
    Changes(BTreeSet<PathBuf>),
}

impl Trigger {
    fn describe(&self) -> String {
        match self {
            Trigger::Start => "first run".into(),
            Trigger::Key => "re-run on request".into(),
            Trigger::Changes(paths) => describe_changes(paths),
        }
    }
}

fn describe_changes(paths: &BTreeSet<PathBuf>) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    match names.as_slice() {
        [] => "after a change".into(),
        [one] => format!("after {one} changed"),
        [first, second] => format!("after {first} and {second} changed"),
        [first, rest @ ..] => format!("after {first} and {} other files changed", rest.len()),
    }
}

/// How changes are noticed, for the footer.
enum Mode {
    Inotify,
    Polling,
    /// Polling because inotify failed; the reason is shown once, under the first run.
    PollingFallback(Option<String>),
}

/// The interactive loop: run, wait, run again.
struct Session {
    target: Target,
    inputs: Receiver<Input>,
    /// Whether keys are read (stdin is a terminal).
    keys: bool,
    mode: Mode,
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
            if let Some(signal) = interruption() {
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
        if interruption().is_some() {
            return Ok(());
        }
        self.last_code = exit_code(status);
        let mark = if self.last_code == exit::PASSED {
            "✓".green()
        } else {
            "✗".red()
        };
        println!(
            "\n── {mark} {} (exit {}) · run {}, {}",
            meaning(self.last_code),
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
        if interruption().is_some() {
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
            if let Some(signal) = interruption() {
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
        let how = match &mut self.mode {
            Mode::Inotify => String::new(),
            Mode::Polling => " (polling every 0.5 s)".into(),
            Mode::PollingFallback(reason) => match reason.take() {
                Some(reason) => format!(" (polling every 0.5 s: {reason})"),
                None => " (polling every 0.5 s)".into(),
            },
        };
        println!("waiting for changes to {}/…{how}", self.target.shown);
        flush_stdout();
    }
}

fn flush_stdout() {
    // Nothing useful to do if the terminal is gone; the next write will fail the same way.
    let _ = std::io::stdout().flush();
}

/// The checker's exit code for a finished child; 128 + N when signal N killed it (as shells do).
fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(exit::ENVIRONMENT),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(exit::ENVIRONMENT),
        (None, None) => exit::ENVIRONMENT,
    }
}

/// What a checker exit code means, in a few words (README, "The checker").
fn meaning(code: u8) -> String {
    match code {
        exit::PASSED => "passed".into(),
        exit::FAILED => "a check failed".into(),
        exit::USAGE => "did not build".into(),
        exit::ENVIRONMENT => "environment problem".into(),
        code if code > 128 => format!("the checker was killed by signal {}", code - 128),
        code => format!("the checker ended with exit status {code}"),
    }
}

// ---- noticing changes ----

/// Keeps change detection running while alive: never read, only held (and dropped to stop).
enum Watcher {
    Inotify(#[allow(dead_code)] RecommendedWatcher),
    Polling(#[allow(dead_code)] Poller),
}

/// Starts inotify (or polling when asked, or when inotify cannot start) on the level's files.
fn start_watching(dir: &Path, poll: bool, sender: Sender<Input>) -> (Watcher, Mode) {
    if poll {
        return (Watcher::Polling(Poller::start(dir, sender)), Mode::Polling);
    }
    match inotify_watcher(dir, sender.clone()) {
        Ok(watcher) => (Watcher::Inotify(watcher), Mode::Inotify),
        Err(e) => {
            let reason = format!("inotify could not start: {e}");
            let poller = Poller::start(dir, sender);
            (
                Watcher::Polling(poller),
                Mode::PollingFallback(Some(reason)),
            )
        }
    }
}

fn inotify_watcher(dir: &Path, sender: Sender<Input>) -> notify::Result<RecommendedWatcher> {
    let root = dir.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Some(paths) = event.ok().and_then(|event| changed_by(&root, &event)) {
            let _ = sender.send(Input::Changed(paths));
        }
    })?;
    // The directory itself (not recursively) sees Cargo.toml even when an editor replaces it by
    // a rename; src/ recursively sees every module. Nothing else (a stray target/) gets watches.
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    watcher.watch(&dir.join("src"), RecursiveMode::Recursive)?;
    Ok(watcher)
}

/// The watched files an event changed (relative to `dir`): None when it changed none of them.
fn changed_by(dir: &Path, event: &notify::Event) -> Option<Vec<PathBuf>> {
    if event.need_rescan() {
        // Events were lost (the queue overflowed): something changed, we don't know what.
        return Some(Vec::new());
    }
    if !is_content_change(&event.kind) {
        return None;
    }
    let paths: Vec<PathBuf> = event
        .paths
        .iter()
        .filter_map(|path| path.strip_prefix(dir).ok())
        .filter(|relative| is_watched(relative))
        .map(Path::to_path_buf)
        .collect();
    (!paths.is_empty()).then_some(paths)
}

/// Reading a file is not changing it. This matters: every build opens every source file, inotify
/// reports those opens, and counting them would re-run the checks forever.
fn is_content_change(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime))
    )
}

/// Whether a change to `relative` (a path inside the level's directory) should re-run the checks:
/// the level's `Cargo.toml` and what is under `src/`, but no editor litter and no build output.
fn is_watched(relative: &Path) -> bool {
    let mut components = relative.components();
    let in_scope = match components.next() {
        Some(first) if first.as_os_str() == "src" => true,
        Some(first) if first.as_os_str() == "Cargo.toml" => components.next().is_none(),
        _ => false,
    };
    in_scope
        && !relative
            .components()
            .any(|c| is_ignored_name(c.as_os_str()))
}

/// Files editors and builds leave next to the sources: hidden files (`.main.rs.swp`, emacs's
/// `.#main.rs`), backups (`main.rs~`), vim's swap files and its `4913` write test, emacs's
/// `#main.rs#` autosaves, and `target/`.
fn is_ignored_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || (name.len() > 1 && name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || name == "target"
}

/// What polling compares: a file's modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    size: u64,
}

/// The watched files (relative to the level's directory) and their stamps.
type Snapshot = BTreeMap<PathBuf, Stamp>;

/// The watched files under `dir` as they are now.
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = Snapshot::new();
    add_file(dir, Path::new("Cargo.toml"), &mut files);
    add_tree(dir, Path::new("src"), &mut files);
    files
}

fn add_tree(dir: &Path, relative: &Path, files: &mut Snapshot) {
    // Files come and go while an editor saves: whatever cannot be read now is read next poll.
    let Ok(entries) = std::fs::read_dir(dir.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = relative.join(entry.file_name());
        if !is_watched(&path) {
            continue;
        }
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => add_tree(dir, &path, files),
            Ok(_) => add_file(dir, &path, files),
            Err(_) => {}
        }
    }
}

fn add_file(dir: &Path, relative: &Path, files: &mut Snapshot) {
    if let Ok(meta) = std::fs::metadata(dir.join(relative)) {
        if meta.is_file() {
            let stamp = Stamp {
                modified: meta.modified().ok(),
                size: meta.len(),
            };
            files.insert(relative.to_path_buf(), stamp);
        }
    }
}

/// The files added, removed or modified between two snapshots, sorted.
fn differences(before: &Snapshot, after: &Snapshot) -> Vec<PathBuf> {
    let added_or_modified = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path);
    let removed = before.keys().filter(|path| !after.contains_key(*path));
    let mut changed: Vec<PathBuf> = added_or_modified.chain(removed).cloned().collect();
    changed.sort();
    changed
}

/// Compares snapshots of the level's files every POLL_INTERVAL, on its own thread.
struct Poller {
    stop: Arc<AtomicBool>,
}

impl Poller {
    fn start(dir: &Path, sender: Sender<Input>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let dir = dir.to_path_buf();
        thread::spawn(move || {
            let mut before = snapshot(&dir);
            while !stopped.load(Ordering::Relaxed) {
                thread::sleep(POLL_INTERVAL);
                let after = snapshot(&dir);
                let changed = differences(&before, &after);
                if !changed.is_empty() && sender.send(Input::Changed(changed)).is_err() {
                    break;
                }
                before = after;
            }
        });
        Self { stop }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        // Not joined: quitting should not wait for a poll; the thread ends at its next wake-up.
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---- the terminal and Ctrl-C ----

/// The signal that asked watch mode to stop (0: none yet). Set by the signal handler.
static INTERRUPTION: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember_signal(signal: libc::c_int) {
    INTERRUPTION.store(signal, Ordering::SeqCst);
}

fn interruption() -> Option<Signal> {
    Signal::try_from(INTERRUPTION.load(Ordering::SeqCst)).ok()
}

/// Catches Ctrl-C (and `kill`) so that watch mode ends through its normal path, which restores
/// the terminal. The previous handlers come back on drop. Children get the default handling back
/// when they exec, so Ctrl-C still stops a running check as usual.
struct Interrupts {
    previous: Vec<(Signal, SigAction)>,
}

impl Interrupts {
    fn catch() -> Result<Self> {
        INTERRUPTION.store(0, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(remember_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // Built first so that a failure half-way still restores what was already replaced.
        let mut caught = Self {
            previous: Vec::new(),
        };
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
            let previous = unsafe { sigaction(signal, &action) }
                .with_context(|| format!("catching {signal}"))?;
            caught.previous.push((signal, previous));
        }
        Ok(caught)
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        for (signal, previous) in self.previous.iter().rev() {
            // SAFETY: puts back the handler that was there before `catch`.
            let _ = unsafe { sigaction(*signal, previous) };
        }
    }
}

/// The terminal in non-canonical, no-echo mode so single keys arrive at once; restored on drop,
/// on every way out of `watch` (Ctrl-C included: it is caught, see `Interrupts`), and around a
/// Ctrl-Z: the shell gets its terminal back while watch mode is stopped, and `fg` brings the
/// single keys back.
struct RawTerminal {
    original: Termios,
    /// The handlers of SIGTSTP and SIGCONT before `enter`.
    previous: Vec<(Signal, SigAction)>,
}

/// Both settings of the terminal, for the Ctrl-Z and `fg` handlers (null outside watch mode).
static TERMINAL_MODES: AtomicPtr<TerminalModes> = AtomicPtr::new(std::ptr::null_mut());

struct TerminalModes {
    original: libc::termios,
    keys: libc::termios,
}

impl From<libc::termios> for TerminalModes {
    fn from(original: libc::termios) -> Self {
        let mut keys = original;
        // ISIG stays on: Ctrl-C still sends SIGINT, to watch mode and to the checks it runs.
        keys.c_lflag &= !(libc::ICANON | libc::ECHO);
        // A read returns after at most 0.1 s even with no key, so the key reader can stop.
        keys.c_cc[libc::VMIN] = 0;
        keys.c_cc[libc::VTIME] = 1;
        Self { original, keys }
    }
}

impl RawTerminal {
    /// None when stdin is not a terminal: then there are no keys, only Ctrl-C.
    fn enter() -> Result<Option<Self>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let original = termios::tcgetattr(&stdin).context("reading the terminal's settings")?;
        let modes = Box::new(TerminalModes::from(libc::termios::from(original.clone())));
        let keys = Termios::from(modes.keys);
        // Leaked on purpose (two small structs, once per watch): a handler may still read them.
        TERMINAL_MODES.store(Box::into_raw(modes), Ordering::SeqCst);
        let mut terminal = Self {
            original,
            previous: Vec::new(),
        };
        let action = SigAction::new(
            SigHandler::Handler(on_job_control),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for signal in [Signal::SIGTSTP, Signal::SIGCONT] {
            // SAFETY: the handler only calls tcsetattr and kill, both async-signal-safe.
            let previous = unsafe { sigaction(signal, &action) }
                .with_context(|| format!("catching {signal}"))?;
            terminal.previous.push((signal, previous));
        }
        termios::tcsetattr(&stdin, SetArg::TCSANOW, &keys)
            .context("setting the terminal to read single keys")?;
        Ok(Some(terminal))
    }
}

/// Ctrl-Z: give the shell its terminal settings back, then stop as usual. `fg` (SIGCONT): single
/// keys again. (A key reader blocked in a line read wakes up when the mode changes.)
extern "C" fn on_job_control(signal: libc::c_int) {
    let modes = TERMINAL_MODES.load(Ordering::SeqCst);
    // SAFETY: `modes` is null or a leaked, never-freed TerminalModes; tcsetattr, getpid and kill
    // are async-signal-safe.
    unsafe {
        if signal == libc::SIGTSTP {
            if let Some(modes) = modes.as_ref() {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &modes.original);
            }
            libc::kill(libc::getpid(), libc::SIGSTOP);
        } else if let Some(modes) = modes.as_ref() {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &modes.keys);
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        TERMINAL_MODES.store(std::ptr::null_mut(), Ordering::SeqCst);
        for (signal, previous) in self.previous.iter().rev() {
            // SAFETY: puts back the handler that was there before `enter`.
            let _ = unsafe { sigaction(*signal, previous) };
        }
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.original);
    }
}

/// Reads keys from stdin on its own thread and sends them to the loop.
struct KeyReader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KeyReader {
    fn start(sender: Sender<Input>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut byte = [0u8; 1];
            while !stopped.load(Ordering::Relaxed) {
                match stdin.read(&mut byte) {
                    Ok(1) => {
                        let key = Key::from_byte(byte[0]);
                        if key.is_some_and(|key| sender.send(Input::Key(key)).is_err()) {
                            break;
                        }
                    }
                    // 0 bytes: no key within VTIME; look at the stop flag again.
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        // Joined (at most one VTIME, 0.1 s) so that no read is under way when the terminal's
        // settings are restored.
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, RemoveKind};

    fn stamp(secs: u64, size: u64) -> Stamp {
        Stamp {
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            size,
        }
    }

    fn snap(files: &[(&str, Stamp)]) -> Snapshot {
        files
            .iter()
            .map(|(path, stamp)| (PathBuf::from(path), *stamp))
            .collect()
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_same_snapshot_has_no_differences() {
        let files = snap(&[("src/main.rs", stamp(1, 10)), ("Cargo.toml", stamp(1, 5))]);
        assert!(differences(&files, &files.clone()).is_empty());
    }

    #[test]
    fn an_added_file_is_a_difference() {
        let before = snap(&[("src/main.rs", stamp(1, 10))]);
        let after = snap(&[("src/main.rs", stamp(1, 10)), ("src/mount.rs", stamp(2, 3))]);
        assert_eq!(differences(&before, &after), paths(&["src/mount.rs"]));
    }

    #[test]
    fn a_removed_file_is_a_difference() {
        let before = snap(&[("src/main.rs", stamp(1, 10)), ("src/old.rs", stamp(1, 3))]);
        let after = snap(&[("src/main.rs", stamp(1, 10))]);
        assert_eq!(differences(&before, &after), paths(&["src/old.rs"]));
    }

    #[test]
    fn a_new_mtime_or_size_is_a_modification() {
        let before = snap(&[("src/main.rs", stamp(1, 10)), ("Cargo.toml", stamp(1, 5))]);
        let after = snap(&[("src/main.rs", stamp(2, 10)), ("Cargo.toml", stamp(1, 6))]);
        assert_eq!(
            differences(&before, &after),
            paths(&["Cargo.toml", "src/main.rs"])
        );
    }

    #[test]
    fn sources_and_the_manifest_are_watched() {
        for path in ["src/main.rs", "src/net/mod.rs", "Cargo.toml"] {
            assert!(is_watched(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn editor_litter_and_build_output_are_ignored() {
        for path in [
            "src/.main.rs.swp",
            "src/.main.rs.swx",
            "src/main.rs.swp",
            "src/main.rs~",
            "src/4913",
            "src/.#main.rs",
            "src/#main.rs#",
            "src/target/debug/x.rs",
            "target/debug/level3",
            "README.md",
            "Cargo.toml~",
            "Cargo.toml/x",
        ] {
            assert!(!is_watched(Path::new(path)), "{path}");
        }
    }

    #[test]
    fn a_snapshot_holds_the_watched_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/net")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        for file in [
            "Cargo.toml",
            "README.md",
            "src/main.rs",
            "src/net/mod.rs",
            "src/.main.rs.swp",
            "target/out",
        ] {
            std::fs::write(root.join(file), "x").unwrap();
        }
        let files: Vec<PathBuf> = snapshot(root).into_keys().collect();
        assert_eq!(
            files,
            paths(&["Cargo.toml", "src/main.rs", "src/net/mod.rs"])
        );
    }

    #[test]
    fn a_save_shows_up_in_the_next_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        let main = dir.path().join("src/main.rs");
        std::fs::write(&main, "fn main() {}").unwrap();
        let before = snapshot(dir.path());
        std::fs::write(&main, "fn main() { todo!() }").unwrap();
        assert_eq!(
            differences(&before, &snapshot(dir.path())),
            paths(&["src/main.rs"])
        );
    }

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from("/level").join(path))
    }

    #[test]
    fn writing_a_source_file_is_a_change() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "src/main.rs")),
            Some(paths(&["src/main.rs"]))
        );
        let create = EventKind::Create(CreateKind::File);
        assert!(changed_by(Path::new("/level"), &event(create, "Cargo.toml")).is_some());
        let remove = EventKind::Remove(RemoveKind::File);
        assert!(changed_by(Path::new("/level"), &event(remove, "src/mount.rs")).is_some());
    }

    #[test]
    fn reading_a_source_file_or_touching_a_swap_file_is_no_change() {
        // cargo opens every source file on each build: that must not trigger another run.
        let open = EventKind::Access(AccessKind::Open(notify::event::AccessMode::Any));
        assert_eq!(
            changed_by(Path::new("/level"), &event(open, "src/main.rs")),
            None
        );
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "src/.main.rs.swp")),
            None
        );
        assert_eq!(
            changed_by(Path::new("/level"), &event(write, "README.md")),
            None
        );
    }

    #[test]
    fn lost_events_count_as_a_change() {
        let overflow = notify::Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(changed_by(Path::new("/level"), &overflow), Some(Vec::new()));
    }

    #[test]
    fn changes_and_keys_during_a_run_make_one_more_run() {
        let mut pending = Pending::default();
        pending.add(Input::Changed(paths(&["src/main.rs"])));
        pending.add(Input::Key(Key::Rerun));
        pending.add(Input::Changed(paths(&["src/main.rs", "Cargo.toml"])));
        match pending.take_run() {
            Some(Trigger::Changes(changed)) => {
                assert_eq!(changed.len(), 2, "{changed:?}")
            }
            _ => panic!("expected a run for the changes"),
        }
        assert!(pending.take_run().is_none(), "one run, not one per event");
    }

    #[test]
    fn keys_map_to_hint_rerun_and_quit() {
        assert_eq!(Key::from_byte(b'h'), Some(Key::Hint));
        assert_eq!(Key::from_byte(b'\n'), Some(Key::Rerun));
        assert_eq!(Key::from_byte(b'r'), Some(Key::Rerun));
        assert_eq!(Key::from_byte(b'q'), Some(Key::Quit));
        assert_eq!(Key::from_byte(b'x'), None);
    }

    #[test]
    fn single_keys_without_echo_and_ctrl_c_still_a_signal() {
        // SAFETY: an all-zero termios is a valid (if useless) value of this plain C struct.
        let mut cooked: libc::termios = unsafe { std::mem::zeroed() };
        cooked.c_lflag = libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN;
        cooked.c_cc[libc::VMIN] = 1;
        let modes = TerminalModes::from(cooked);
        assert_eq!(
            modes.original.c_lflag, cooked.c_lflag,
            "kept for Ctrl-Z and quit"
        );
        assert_eq!(modes.keys.c_lflag, libc::ISIG | libc::IEXTEN);
        assert_eq!(modes.keys.c_cc[libc::VMIN], 0);
        assert_eq!(modes.keys.c_cc[libc::VTIME], 1, "reads give up after 0.1 s");
    }

    #[test]
    fn the_footer_names_what_changed() {
        let set = |names: &[&str]| names.iter().map(PathBuf::from).collect();
        assert_eq!(describe_changes(&set(&[])), "after a change");
        assert_eq!(
            describe_changes(&set(&["src/main.rs"])),
            "after src/main.rs changed"
        );
        assert_eq!(
            describe_changes(&set(&["src/a.rs", "src/b.rs", "src/c.rs"])),
            "after src/a.rs and 2 other files changed"
        );
    }

    #[test]
    fn exit_codes_read_as_the_readme_says() {
        assert_eq!(meaning(exit::PASSED), "passed");
        assert_eq!(meaning(exit::FAILED), "a check failed");
        assert_eq!(meaning(exit::USAGE), "did not build");
        assert_eq!(meaning(exit::ENVIRONMENT), "environment problem");
        assert_eq!(meaning(130), "the checker was killed by signal 2");
        assert_eq!(exit_code(ExitStatus::from_raw(1 << 8)), exit::FAILED);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGINT)), 130);
    }
}
