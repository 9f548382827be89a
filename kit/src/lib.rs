//! What every rubber-crab level gets pre-written, so the level's own code is only the kernel
//! mechanism it teaches: the runtime CLI ([`cli`]), the image store ([`image`], [`builder`]),
//! container ids and dirs ([`container`]), errno advice ([`syscall`]) and `--explain` narration
//! ([`explain!`]).

pub mod builder;
pub mod cli;
pub mod container;
pub mod explain;
pub mod image;
pub mod ladder;
pub mod paths;
pub mod size;
pub mod syscall;

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

/// Everything a level imports: `use kit::prelude::*;`.
pub mod prelude {
    pub use crate::cli::RunArgs;
    pub use crate::container::Container;
    pub use crate::syscall::SyscallExt;
    pub use crate::{explain, EXIT_CANNOT_EXEC};
    pub use anyhow::{Context, Result};
}

/// The runtime's `main`: parses the command line (usage errors exit 2), turns on `--explain`,
/// calls `run`, and turns its result into the process exit status. An error is printed as one
/// line, `<runtime>: <what failed>: <why>`, and exits 2 for bad input, 125 otherwise.
pub fn main(run: impl FnOnce(RunArgs) -> anyhow::Result<i32>) -> ExitCode {
    use clap::Parser;
    let cli::Command::Run(args) = cli::Cli::parse().command;
    explain::enable(args.explain);
    match run(args) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_RUNTIME_FAILED)),
        Err(err) => {
            eprintln!("{}: {err:#}", program_name());
            if err.chain().any(|cause| cause.is::<BadInput>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(EXIT_RUNTIME_FAILED)
            }
        }
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
/// with 127 when the command could not be executed, 125 when the setup before it failed.
/// `_exit`, not `exit`: the child must not run the parent's exit handlers or flush its buffers twice.
pub fn exit_child(err: anyhow::Error) -> ! {
    eprintln!("{}: {err:#}", program_name());
    let exec_failed = err
        .chain()
        .filter_map(|cause| cause.downcast_ref::<syscall::SyscallError>())
        .any(|e| e.what.starts_with("exec"));
    let code = if exec_failed {
        EXIT_CANNOT_EXEC
    } else {
        i32::from(EXIT_RUNTIME_FAILED)
    };
    // SAFETY: _exit takes no pointers and never returns; it is async-signal-safe, as a child of
    // fork must be.
    unsafe { libc::_exit(code) }
}
