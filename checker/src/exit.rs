//! The checker's exit codes (README, "The checker"), the errors that choose them, and what a code
//! means in a few words. Depends on nothing else in the crate: every module may use it.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

/// Every check passed.
pub const PASSED: u8 = 0;
/// A check failed.
pub const FAILED: u8 = 1;
/// Bad input, or the crate did not build.
pub const USAGE: u8 = 2;
/// The environment cannot run the checks: not root, no namespaces, …
pub const ENVIRONMENT: u8 = 3;

/// Bad input: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    Usage(msg.into()).into()
}

/// A build that failed: cargo has already shown why. Exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BuildFailed(pub String);

/// Not root: exit 3, with the command to run instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotRoot(pub String);

/// The exit code for the error that ended the checker: bad input and failed builds are the
/// learner's to fix (2), anything else is the machine's (3).
pub fn of_error(error: &anyhow::Error) -> u8 {
    if error.is::<Usage>() || error.is::<BuildFailed>() {
        USAGE
    } else {
        ENVIRONMENT
    }
}

/// Prints what clap has to say (an error, or the help that was asked for) and returns the code
/// to exit with: 2 after an error, 0 after `--help` or `--version`.
pub fn after_clap(error: &clap::Error) -> u8 {
    // Nothing better to do when stderr is gone.
    let _ = error.print();
    if error.use_stderr() {
        USAGE
    } else {
        PASSED
    }
}

/// The exit code of a checker that ran as a child; 128 + N when signal N killed it (as shells
/// do).
pub fn of_status(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(ENVIRONMENT),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(ENVIRONMENT),
        (None, None) => ENVIRONMENT,
    }
}

/// What a checker exit code means, in a few words.
pub fn meaning(code: u8) -> String {
    match code {
        PASSED => "passed".into(),
        FAILED => "a check failed".into(),
        USAGE => "did not build".into(),
        ENVIRONMENT => "environment problem".into(),
        code if code > 128 => format!("the checker was killed by signal {}", code - 128),
        code => format!("the checker ended with exit status {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_read_as_the_readme_says() {
        assert_eq!(meaning(PASSED), "passed");
        assert_eq!(meaning(FAILED), "a check failed");
        assert_eq!(meaning(USAGE), "did not build");
        assert_eq!(meaning(ENVIRONMENT), "environment problem");
        assert_eq!(meaning(130), "the checker was killed by signal 2");
        assert_eq!(of_status(ExitStatus::from_raw(1 << 8)), FAILED);
        assert_eq!(of_status(ExitStatus::from_raw(libc::SIGINT)), 130);
    }

    #[test]
    fn bad_input_and_failed_builds_exit_2_the_rest_3() {
        assert_eq!(of_error(&usage("unknown level")), USAGE);
        assert_eq!(of_error(&BuildFailed("x".into()).into()), USAGE);
        assert_eq!(of_error(&NotRoot("x".into()).into()), ENVIRONMENT);
        assert_eq!(of_error(&anyhow::anyhow!("no overlayfs")), ENVIRONMENT);
    }
}
