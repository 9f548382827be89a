//! Ctrl-C, SIGTERM or SIGHUP in the middle of a run: the checker removes what its run made (the
//! runtime and everything it started, the cage, the run dir), says what it removed, and exits
//! 128 + the signal's number. Each thing registers how to undo it while it exists.
//!
//! SIGKILL cannot be caught: then the sandbox's PID namespace dies with the checker (its holder
//! has PR_SET_PDEATHSIG), taking every process of the run with it, and the next checker removes
//! the cage and the run dir (see ownership.rs) and says so.

use std::sync::Mutex;

type Undo = Box<dyn Fn() -> Option<String> + Send>;

static UNDO: Mutex<Vec<(u64, Undo)>> = Mutex::new(Vec::new());
static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Something to undo if the checker is interrupted, until the registration is dropped. `undo`
/// returns what it removed, if anything.
pub struct Registered(u64);

pub fn register(undo: impl Fn() -> Option<String> + Send + 'static) -> Registered {
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut list) = UNDO.lock() {
        list.push((id, Box::new(undo)));
    }
    Registered(id)
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
            let removed = undo_all();
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

/// Undoes everything registered, latest first; what was removed.
fn undo_all() -> Vec<String> {
    let list = match UNDO.lock() {
        Ok(mut list) => std::mem::take(&mut *list),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    list.iter().rev().filter_map(|(_, undo)| undo()).collect()
}
