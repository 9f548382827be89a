//! Ctrl-C, SIGTERM or SIGHUP in the middle of a run: the checker removes what its run made (the
//! runtime and everything it started, the cage, the run dir), says what it removed, and exits
//! 128 + the signal's number. Each thing registers how to undo it while it exists.
//!
//! The thread doing the checks goes on while the signal is handled (its runtime killed, a check
//! ends and the next begins): from the signal on, whatever it registers is undone at once and
//! the thread stops there for good (see [`checkpoint`]); once it has stopped (or after a bound),
//! what lives for the checker's whole life (the run dir, written meanwhile) is removed again.
//!
//! SIGKILL cannot be caught: then the sandbox's PID namespace dies with the checker (its holder
//! has PR_SET_PDEATHSIG), taking every process of the run with it, and the next checker removes
//! the cage and the run dir (see ownership.rs) and says so.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type Undo = Box<dyn Fn() -> Option<String> + Send>;

static UNDO: Mutex<Vec<(u64, Undo)>> = Mutex::new(Vec::new());
/// What lives as long as the checker (the run dirs): undone on every pass.
static FOR_LIFE: Mutex<Vec<Undo>> = Mutex::new(Vec::new());
/// What was undone as it was registered, after the signal.
static LATE: Mutex<Vec<String>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(1);
/// Set (under the UNDO lock) when a signal came: nothing new may be kept from then on.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// A thread stopped at a checkpoint.
static PARKED: AtomicBool = AtomicBool::new(false);

/// How long the signal's thread waits for the checks' thread to stop before it cleans up anyway
/// (it may be waiting for a runtime that the signal did not end).
const STOP_BOUND: Duration = Duration::from_secs(5);

/// Something to undo if the checker is interrupted, until the registration is dropped. `undo`
/// returns what it removed, if anything.
pub struct Registered(u64);

pub fn register(undo: impl Fn() -> Option<String> + Send + 'static) -> Registered {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut list = UNDO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !STOPPING.load(Ordering::SeqCst) {
        list.push((id, Box::new(undo)));
        return Registered(id);
    }
    drop(list);
    // Made after the signal: undone now, and this thread goes no further.
    if let Some(said) = undo() {
        late(said);
    }
    checkpoint();
    Registered(id)
}

/// Like [`register`], for the checker's whole life: undone on every pass after a signal.
pub fn register_for_life(undo: impl Fn() -> Option<String> + Send + 'static) {
    FOR_LIFE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(Box::new(undo));
}

fn late(said: String) {
    LATE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(said);
}

/// Whether a signal came: the checker is cleaning up and about to exit.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Where the checks' thread stops for good once a signal came: before it makes anything new.
pub fn checkpoint() {
    if STOPPING.load(Ordering::SeqCst) {
        PARKED.store(true, Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut list) = UNDO.lock() {
            list.retain(|(id, _)| *id != self.0);
        }
    }
}

/// Starts the thread that waits for SIGINT, SIGTERM and SIGHUP and cleans up on the first.
pub fn handle_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let mut removed = undo_all();
            // The checks' thread stops at its next checkpoint; what it made meanwhile goes.
            let since = Instant::now();
            while !PARKED.load(Ordering::SeqCst) && since.elapsed() < STOP_BOUND {
                std::thread::sleep(Duration::from_millis(5));
            }
            for said in undo_all().into_iter().chain(std::mem::take(
                &mut *LATE.lock().unwrap_or_else(|p| p.into_inner()),
            )) {
                if !removed.contains(&said) {
                    removed.push(said);
                }
            }
            let name = match signal {
                SIGINT => "SIGINT",
                SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            match removed.is_empty() {
                true => eprintln!("checker: stopped by {name}; nothing of the run was left"),
                false => eprintln!(
                    "checker: stopped by {name}; removed what the run made: {}",
                    removed.join(", ")
                ),
            }
            std::process::exit(128 + signal);
        }
    });
}

/// Undoes everything registered, latest first, then what lives for the checker's whole life;
/// what was removed. From the first call on, nothing new is kept (see [`register`]).
fn undo_all() -> Vec<String> {
    let list = {
        let mut list = UNDO
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        STOPPING.store(true, Ordering::SeqCst);
        std::mem::take(&mut *list)
    };
    let mut removed: Vec<String> = list.iter().rev().filter_map(|(_, undo)| undo()).collect();
    let for_life = FOR_LIFE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    removed.extend(for_life.iter().filter_map(|undo| undo()));
    removed
}
