//! `--hold`: after its line, the probe stays alive until the checker has looked at the live
//! container and sends SIGTERM, SIGUSR1 or SIGINT (at most [`HOLD_MAX`]), then exits 0.

use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::commands::{emit, status_of};

/// Signals that end `--hold`.
const HOLD_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGUSR1, libc::SIGINT];
/// Longest `--hold`.
const HOLD_MAX: Duration = Duration::from_secs(30);

/// Does `act`, prints its reply, then holds when asked. The exit status is 0 after a hold, else
/// 0 when the reply is `ok` and 1 when not.
pub fn reply_then_hold<R: Serialize>(
    nonce: &str,
    hold: bool,
    act: impl FnOnce() -> R,
    ok: impl Fn(&R) -> bool,
) -> i32 {
    // Before the line: no signal sent in reaction to it may be lost.
    let held = hold.then(block_hold_signals);
    let reply = act();
    emit(nonce, &reply);
    match held {
        Some(set) => wait_for_signal(&set),
        None => status_of(ok(&reply)),
    }
}

/// Prints `ready`, then waits for a hold signal (at most [`HOLD_MAX`]) before the caller goes
/// on: the checker looks at the process before it acts.
pub fn reply_then_wait(nonce: &str, ready: &impl Serialize) {
    let set = block_hold_signals();
    emit(nonce, ready);
    wait_for_signal(&set);
}

/// A signal set holding `signals`.
pub fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset only fails for invalid numbers,
    // which callers never pass (signal numbers are validated at parse time).
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &sig in signals {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        set.assume_init()
    }
}

/// Does nothing: the hold signals are blocked and collected by sigtimedwait. The handler only
/// makes sure they are not ignored (a signal without a handler is dropped for PID 1 of a pid
/// namespace, and an ignored disposition may have been inherited).
extern "C" fn on_hold_signal(_: libc::c_int) {}

/// Installs handlers for the hold signals and blocks them, before the line is printed so that
/// none sent in reaction to it is lost.
fn block_hold_signals() -> libc::sigset_t {
    let set = sigset(&HOLD_SIGNALS);
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags); the handler is an
    // `extern "C"` function that does nothing, so it is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_hold_signal as *const () as libc::sighandler_t;
        for sig in HOLD_SIGNALS {
            if libc::sigaction(sig, &action, ptr::null_mut()) != 0 {
                eprintln!("probe: sigaction({sig}): {}", io::Error::last_os_error());
            }
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) != 0 {
            eprintln!("probe: cannot block the hold signals");
        }
    }
    set
}

/// Waits for one of the blocked signals in `set`, at most [`HOLD_MAX`]; returns exit status 0.
fn wait_for_signal(set: &libc::sigset_t) -> i32 {
    let deadline = Instant::now() + HOLD_MAX;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return 0;
        }
        let timeout = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(left.subsec_nanos()),
        };
        // SAFETY: valid pointers to a signal set and a timespec; a null info is allowed.
        let rc = unsafe { libc::sigtimedwait(set, ptr::null_mut(), &timeout) };
        if rc > 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 0;
        }
    }
}
