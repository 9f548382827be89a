//! What every rubber-crab level gets pre-written, so the level's own code is only the kernel
//! mechanism it teaches: the runtime CLI ([`cli`]), the image store ([`image`], [`builder`]),
//! container ids and dirs ([`container`]), errno advice ([`syscall`]), `--explain` narration
//! ([`explain!`]), where cgroups live ([`cgroup`]) and what the user namespace allows ([`userns`]).

pub mod builder;
pub mod cgroup;
pub mod cli;
pub mod container;
pub mod explain;
pub mod image;
pub mod ladder;
pub mod netlink;
pub mod paths;
pub mod size;
pub mod syscall;
pub mod userns;

pub use cli::RunArgs;
pub use container::Container;
pub use syscall::SyscallExt;

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit status when the runtime itself failed before the command ran (as `docker run` does).
pub const EXIT_RUNTIME_FAILED: u8 = 125;
/// Exit status when the command could not be executed.
pub const EXIT_CANNOT_EXEC: i32 = 127;

/// Bad input from the user (a missing image, an unusable directory): exit 2, one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// An error that kept the command from being executed (exit status 127, not 125): what
/// [`cannot_exec`] makes of an `execvp` error. Its message is the error's own.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct CannotExec(pub anyhow::Error);

/// Marks the error of an exec as "the command could not be executed", so that [`exit_child`]
/// exits with 127: `execvp(..).syscall(..).map_err(kit::cannot_exec)`.
pub fn cannot_exec(err: impl Into<anyhow::Error>) -> anyhow::Error {
    CannotExec(err.into()).into()
}

/// Everything a level imports: `use kit::prelude::*;`.
pub mod prelude {
    pub use crate::cli::RunArgs;
    pub use crate::container::Container;
    pub use crate::syscall::SyscallExt;
    pub use crate::{explain, EXIT_CANNOT_EXEC};
    pub use anyhow::{Context, Result};
}

/// Exit status for bad input: a usage error, a missing image, an image that would escape.
pub const EXIT_BAD_INPUT: u8 = 2;

/// A level's `main`: [`main_at`] with the level number of the crate it is expanded in (`level3`
/// and `solution3` are level 3), so that `--explain` can say which flags this level ignores.
#[macro_export]
macro_rules! main {
    ($run:expr) => {
        $crate::main_at(
            $crate::ladder::number_of_package(env!("CARGO_PKG_NAME")),
            $run,
        )
    };
}

/// [`main`] for the runtime of `level`: with `--explain`, first says which flags it ignores
/// because a later level brings their mechanism.
pub fn main_at(level: Option<u32>, run: impl FnOnce(RunArgs) -> anyhow::Result<i32>) -> ExitCode {
    main(|args| {
        if let Some(level) = level {
            for ignored in cli::ignored_flags(&args, level) {
                crate::explain!("{ignored}");
            }
        }
        run(args)
    })
}

/// The runtime's `main`: parses the command line (usage errors exit 2), turns on `--explain`,
/// calls `run`, and turns its result into the process exit status. An error is printed as one
/// line, `<runtime>: <what failed>: <why>`, and exits 2 for bad input, 125 otherwise.
pub fn main(run: impl FnOnce(RunArgs) -> anyhow::Result<i32>) -> ExitCode {
    main_skipping(&[], run)
}

/// [`main`], skipping the checks of [`cli::validate`] for the flags in `skip`: only for the
/// checker's broken runtimes, each of which forgets one check on purpose.
pub fn main_skipping(skip: &[&str], run: impl FnOnce(RunArgs) -> anyhow::Result<i32>) -> ExitCode {
    use clap::Parser;
    let args = match cli::Cli::try_parse() {
        Ok(cli) => match cli.command {
            cli::Command::Run(args) => args,
        },
        Err(err) => return usage_error(err),
    };
    // Before anything is created: a bad value leaves nothing behind.
    if let Err(why) = cli::validate_except(&args, skip) {
        eprintln!("{}: {why}", program_name());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    explain::enable(args.explain);
    match run(args) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_RUNTIME_FAILED)),
        Err(err) => {
            eprintln!("{}: {err:#}", program_name());
            ExitCode::from(exit_status_for(&err))
        }
    }
}

/// `--help` prints the help; any other parse error is bad input, said in one line (the contract:
/// a checker or a script reads the last line of stderr), with `--help` as the way to learn more.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    eprintln!("{}: {} (see --help)", program_name(), first_line(&err));
    ExitCode::from(EXIT_BAD_INPUT)
}

/// clap's message without its `error: ` prefix and the lines of advice that follow it. A missing
/// command (the only required argument) is said with the usage that gives one.
fn first_line(err: &clap::Error) -> String {
    if err.kind() == clap::error::ErrorKind::MissingRequiredArgument {
        let program = program_name();
        return format!("no command given: try {program} run [OPTIONS] -- COMMAND [ARG...]");
    }
    let text = err.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// Whether an error is the user's input (exit 2) rather than a failure of the runtime's setup
/// (125): a [`BadInput`], or an image refused as unsafe ([`image::UnsafeMember`]).
pub fn is_bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<BadInput>() || cause.is::<image::UnsafeMember>() || cause.is::<image::NotATar>()
    })
}

/// The exit status for an error that stopped the runtime before the command ran.
fn exit_status_for(err: &anyhow::Error) -> u8 {
    if is_bad_input(err) {
        EXIT_BAD_INPUT
    } else {
        EXIT_RUNTIME_FAILED
    }
}

/// The name this program was started as (`solution3`), for error messages.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "runtime".into())
}

/// The command line as C strings for `execvp`. Arguments come from our own argv, which cannot
/// contain NUL bytes, so the conversion cannot fail.
pub fn c_strings(args: &[OsString]) -> Vec<CString> {
    args.iter()
        .map(|a| CString::new(a.as_bytes()).expect("argv never contains NUL"))
        .collect()
}

impl RunArgs {
    /// `--image-dir`, or the workspace default.
    pub fn image_dir(&self) -> PathBuf {
        self.image_dir
            .clone()
            .unwrap_or_else(paths::default_image_dir)
    }

    /// `--container-dir`, or the workspace default.
    pub fn container_dir(&self) -> PathBuf {
        self.container_dir
            .clone()
            .unwrap_or_else(paths::default_container_dir)
    }
}

/// Ends a forked child whose setup or exec failed: prints the error as one line and exits
/// with 127 when the command could not be executed (a [`CannotExec`] error), 2 for bad input
/// (level 7 extracts the image in the child), 125 when the setup before it failed.
/// `_exit`, not `exit`: the child must not run the parent's exit handlers or flush its buffers twice.
pub fn exit_child(err: anyhow::Error) -> ! {
    eprintln!("{}: {err:#}", program_name());
    let code = child_exit_status(&err);
    // SAFETY: _exit takes no pointers and never returns; it is async-signal-safe, as a child of
    // fork must be.
    unsafe { libc::_exit(code) }
}

/// 127 for an error marked by [`cannot_exec`], else as [`main`] would exit.
fn child_exit_status(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<CannotExec>()) {
        EXIT_CANNOT_EXEC
    } else {
        i32::from(exit_status_for(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn a_usage_error_is_one_line_without_clap_prefix() {
        let err = cli::Cli::try_parse_from(["rt", "run", "--memory", "12q", "true"]).unwrap_err();
        let line = first_line(&err);
        assert!(
            line.starts_with("invalid value '12q' for '--memory"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }

    #[test]
    fn no_command_is_one_line_that_shows_how_to_give_one() {
        let err = cli::Cli::try_parse_from(["rt", "run", "--memory", "64m"]).unwrap_err();
        let line = first_line(&err);
        assert!(line.starts_with("no command given: try "), "{line}");
        assert!(
            line.ends_with(" run [OPTIONS] -- COMMAND [ARG...]"),
            "{line}"
        );
    }

    #[test]
    fn only_an_error_marked_cannot_exec_exits_127() {
        let exec = Err::<(), _>(nix::errno::Errno::ENOENT).syscall("execvp(\"/no\")");
        let Err(exec) = exec else { unreachable!() };
        let marked = cannot_exec(exec);
        assert_eq!(child_exit_status(&marked), EXIT_CANNOT_EXEC);
        assert_eq!(
            marked.to_string(),
            "execvp(\"/no\") failed: ENOENT (No such file or directory) — no such file: is the \
             command in the image and on PATH? try an absolute path such as /bin/sh"
        );
        let unmarked = Err::<(), _>(nix::errno::Errno::ENOENT).syscall("execvp(\"/no\")");
        let Err(unmarked) = unmarked else {
            unreachable!()
        };
        assert_eq!(child_exit_status(&unmarked.into()), 125);
        let wrapped = cannot_exec(anyhow::anyhow!("x")).context("in the child");
        assert_eq!(child_exit_status(&wrapped), EXIT_CANNOT_EXEC);
    }

    #[test]
    fn an_unsafe_image_is_bad_input() {
        let refused = anyhow::Error::new(image::UnsafeMember {
            member: "../x".into(),
            why: "`..` would climb out of the root",
        })
        .context("extracting x.tar");
        assert_eq!(exit_status_for(&refused), EXIT_BAD_INPUT);
        assert_eq!(
            exit_status_for(&anyhow::anyhow!("mount failed")),
            EXIT_RUNTIME_FAILED
        );
    }
}
