//! `--explain`: narrate each step on stderr, so a live demo reads like the slide.
//!
//! ```text
//! [pid 4242] unshare(CLONE_NEWNS)  # a private copy of the mount table for this process
//! ```
//! The pid shows which side of the fork is speaking.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns narration on or off (the kit does this from `--explain`).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Prints one narration line, `call  # why`, after the pid. Use the [`explain!`] macro.
pub fn say(narration: std::fmt::Arguments) {
    let narration = narration.to_string();
    let (call, why) = split(&narration);
    let line = format_line(std::process::id(), call, why, colour());
    // One write for the line and its newline: the parent and the child narrate at the same time,
    // and `writeln!` would let the other's line in before the newline. Narration must never
    // break the runtime: ignore a closed stderr.
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// What separates the call from why it is made, in the source as in the output.
const WHY: &str = "  # ";

/// A narration as (call, why): the why is what follows the first `  # `, if any.
fn split(narration: &str) -> (&str, &str) {
    narration.split_once(WHY).unwrap_or((narration, ""))
}

fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}

fn format_line(pid: u32, call: &str, why: &str, colour: bool) -> String {
    match (colour, why.is_empty()) {
        (false, true) => format!("[pid {pid}] {call}"),
        (false, false) => format!("[pid {pid}] {call}  # {why}"),
        (true, true) => format!("\x1b[2m[pid {pid}]\x1b[0m \x1b[1m{call}\x1b[0m"),
        (true, false) => {
            format!("\x1b[2m[pid {pid}]\x1b[0m \x1b[1m{call}\x1b[0m  \x1b[2m# {why}\x1b[0m")
        }
    }
}

/// Narrates a step when `--explain` is on, as the line reads in the output: the call, two
/// spaces, `#` and why, with `format!` arguments: `explain!("chroot({rootfs:?})  # a new /")`.
/// One string, so rustfmt keeps each narration on one line.
#[macro_export]
macro_rules! explain {
    ($($narration:tt)+) => {
        if $crate::explain::enabled() {
            $crate::explain::say(format_args!($($narration)+))
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_pid_the_call_and_why() {
        assert_eq!(
            format_line(7, "chroot(\"/r\")", "new root", false),
            "[pid 7] chroot(\"/r\")  # new root"
        );
        assert_eq!(format_line(7, "fork()", "", false), "[pid 7] fork()");
        assert!(format_line(7, "fork()", "x", true).contains("\x1b[1mfork()"));
    }

    #[test]
    fn a_narration_splits_at_its_first_hash() {
        assert_eq!(split("fork()  # copy  # this"), ("fork()", "copy  # this"));
        assert_eq!(split("ioctl(s, {#x})"), ("ioctl(s, {#x})", ""));
    }
}
