// Generated from solutions/runtime.rs by `cargo xtask generate`; this is your file: edit it.
//! Level 0 — fork, exec, wait: run a command the way a shell does.
//!
//! The kernel makes a new process by copying one (`fork`) and runs a program by replacing the
//! calling process's image with it (`execve`). A runtime is a parent that forks, lets the child
//! become the command, and waits to learn how it ended.
//!
//! Try: `cargo run -p solution0 -- run --explain -- /bin/sh -c 'exit 3'; echo $?`

use kit::prelude::*;

fn main() -> std::process::ExitCode {
    kit::main!(run)
}

/// Runs the command in a new container and returns the exit code to leave with.
fn run(args: RunArgs) -> Result<i32> {
    // TODO(level 0) step 1: fork() a child. fork returns twice: in the child (ForkResult::Child)
    //     and in the parent (ForkResult::Parent { child }). The child calls
    //     `die_with_parent(parent)` (step 5; `parent` is getpid(), taken before fork), then
    //     `child(&args)`, and hands the error to kit::exit_child; the parent returns
    //     `wait_for(child)`. nix's fork is `unsafe`: write a // SAFETY: comment saying why it is
    //     sound here.
    let _ = args;
    anyhow::bail!("no command runs yet: write the TODOs in levels/00-fork-exec/src/main.rs")
}

// TODO(level 0) step 2: write `fn child(args: &RunArgs) -> Result<Infallible>`: in the child
//     process, become the command by calling `exec_command` (step 3). It returns only on failure.

// TODO(level 0) step 3: write `fn exec_command(command: &[OsString]) -> Result<Infallible>`:
//     kit::c_strings, then nix's execvp, which searches PATH; name its error with
//     `.syscall(format!("execvp({:?})", argv[0]))` and mark it with `.map_err(kit::cannot_exec)`,
//     so that kit::exit_child exits 127.

// TODO(level 0) step 4: write `fn wait_for(child: Pid) -> Result<i32>`: waitpid for the child, then
//     return its exit code, or 128 + N if signal N killed it.

// TODO(level 0) step 5: write `fn die_with_parent(parent: Pid) -> Result<()>`:
//     prctl(PR_SET_PDEATHSIG, SIGKILL) (nix::sys::prctl::set_pdeathsig), so that the kernel kills
//     the child when the runtime dies; then, if getppid() is neither `parent` nor 0, the runtime
//     died before that: return an error.
