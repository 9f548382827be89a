//! The runtime's command line, the same for every level (see DESIGN.md, "The runtime contract").
//!
//! Every flag is accepted at every level; a level that has not reached a mechanism yet ignores
//! its flag. Names and meanings follow `docker run`.

use crate::size::parse_size;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(about = "A rubber-crab container runtime", disable_version_flag = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run COMMAND in a new container.
    Run(RunArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Image to run: DIR/NAME.tar under --image-dir.
    #[arg(long, default_value = "busybox", value_name = "NAME")]
    pub image: String,
    /// Where images live [default: target/rubber-crab/images in this workspace].
    #[arg(long, value_name = "DIR")]
    pub image_dir: Option<PathBuf>,
    /// Per-container state goes under DIR/<container-id>/ [default: target/rubber-crab/containers].
    #[arg(long, value_name = "DIR")]
    pub container_dir: Option<PathBuf>,
    /// Container hostname [default: the container id].
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// CPU quota, e.g. 0.5 = half a CPU.
    #[arg(long, value_name = "FLOAT", value_parser = parse_cpus)]
    pub cpus: Option<f64>,
    /// Relative CPU weight (docker semantics, default 1024).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=262144))]
    pub cpu_shares: Option<u64>,
    /// Memory limit, e.g. 64m.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Memory+swap limit (docker semantics: equal to --memory means no swap, -1 unlimited).
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<MemorySwap>,
    /// Max processes in the container.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pids_limit: Option<u64>,
    /// The container's cgroup is PATH/<container-id>, in each v1 hierarchy or in the v2 tree.
    #[arg(long, value_name = "PATH", default_value = "rubber-crab")]
    pub cgroup_parent: PathBuf,
    /// Run the command as this user (numeric UID[:GID]).
    #[arg(long, value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<User>,
    /// Narrate each step (syscall and arguments) on stderr.
    #[arg(long)]
    pub explain: bool,
    /// The command to run in the container, and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<OsString>,
}

/// The flags whose mechanism comes at a later level, as (flag, what it does, its level).
/// Earlier levels accept them (the contract says every flag is accepted at every level) and
/// ignore them; with `--explain` they say so.
pub const LATER_FLAGS: &[(&str, &str, u32)] = &[
    ("--hostname", "a hostname of its own comes", 4),
    ("--cgroup-parent", "cgroups come", 8),
    ("--cpus", "CPU limits come", 8),
    ("--cpu-shares", "CPU limits come", 8),
    ("--memory", "memory limits come", 9),
    ("--memory-swap", "memory limits come", 9),
    ("--pids-limit", "process limits come", 10),
];

/// The default of `--cgroup-parent`: given explicitly, it is no news.
const DEFAULT_CGROUP_PARENT: &str = "rubber-crab";

/// What a runtime of `level` ignores of `args`, one narration each:
/// `ignoring --memory: memory limits come at level 9`.
pub fn ignored_flags(args: &RunArgs, level: u32) -> Vec<String> {
    let given = |flag: &str| match flag {
        "--hostname" => args.hostname.is_some(),
        "--cgroup-parent" => args.cgroup_parent.as_os_str() != DEFAULT_CGROUP_PARENT,
        "--cpus" => args.cpus.is_some(),
        "--cpu-shares" => args.cpu_shares.is_some(),
        "--memory" => args.memory.is_some(),
        "--memory-swap" => args.memory_swap.is_some(),
        "--pids-limit" => args.pids_limit.is_some(),
        _ => false,
    };
    let mut lines: Vec<String> = LATER_FLAGS
        .iter()
        .filter(|&&(flag, _, at)| level < at && given(flag))
        .map(|(flag, what, at)| format!("ignoring {flag}: {what} at level {at}"))
        .collect();
    if args.user.is_some() {
        lines.push("ignoring --user: switching users comes at a later level".into());
    }
    lines
}

/// `--memory-swap`: a size, or -1 for unlimited swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemorySwap {
    Unlimited,
    Bytes(u64),
}

/// `--user UID[:GID]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: Option<u32>,
}

fn parse_cpus(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "{s:?} is not a positive number of CPUs (try 0.5 or 2)"
        )),
    }
}

fn parse_memory_swap(s: &str) -> Result<MemorySwap, String> {
    if s.trim() == "-1" {
        return Ok(MemorySwap::Unlimited);
    }
    parse_size(s)
        .map(MemorySwap::Bytes)
        .map_err(|e| e.to_string())
}

fn parse_user(s: &str) -> Result<User, String> {
    let bad = || format!("{s:?} is not UID or UID:GID with numeric ids (try 1000 or 1000:1000)");
    let (uid, gid) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse()).transpose().map_err(|_| bad())?;
    Ok(User { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = ["rt", "run"].iter().chain(args);
        Cli::try_parse_from(argv).map(|cli| match cli.command {
            Command::Run(run) => run,
        })
    }

    #[test]
    fn the_command_and_its_flags_are_kept_verbatim() {
        let run = parse(&["--", "/bin/sh", "-c", "echo --image x", "", "ünï"]).unwrap();
        assert_eq!(run.command, ["/bin/sh", "-c", "echo --image x", "", "ünï"]);
        // Without `--`, flags after the command belong to the command.
        let run = parse(&["ls", "-l", "--explain"]).unwrap();
        assert_eq!(run.command, ["ls", "-l", "--explain"]);
        assert!(!run.explain);
    }

    #[test]
    fn every_contract_flag_is_accepted() {
        let run = parse(&[
            "--image",
            "alpine",
            "--image-dir",
            "/i",
            "--container-dir",
            "/c",
            "--hostname",
            "box",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--memory",
            "64m",
            "--memory-swap",
            "-1",
            "--pids-limit",
            "20",
            "--cgroup-parent",
            "checker/cage",
            "--user",
            "1000:100",
            "--explain",
            "true",
        ])
        .unwrap();
        assert_eq!(run.image, "alpine");
        assert_eq!(run.image_dir, Some(PathBuf::from("/i")));
        assert_eq!(run.container_dir, Some(PathBuf::from("/c")));
        assert_eq!(run.hostname.as_deref(), Some("box"));
        assert_eq!(run.cpus, Some(0.5));
        assert_eq!(run.cpu_shares, Some(512));
        assert_eq!(run.memory, Some(64 << 20));
        assert_eq!(run.memory_swap, Some(MemorySwap::Unlimited));
        assert_eq!(run.pids_limit, Some(20));
        assert_eq!(run.cgroup_parent, PathBuf::from("checker/cage"));
        assert_eq!(
            run.user,
            Some(User {
                uid: 1000,
                gid: Some(100)
            })
        );
        assert!(run.explain);
        assert_eq!(run.command, ["true"]);
    }

    #[test]
    fn defaults() {
        let run = parse(&["true"]).unwrap();
        assert_eq!(run.image, "busybox");
        assert_eq!(run.cgroup_parent, PathBuf::from("rubber-crab"));
        assert_eq!((run.hostname, run.memory, run.user), (None, None, None));
        assert_eq!(
            parse(&["--memory-swap", "128m", "true"])
                .unwrap()
                .memory_swap,
            Some(MemorySwap::Bytes(128 << 20))
        );
        assert_eq!(
            parse(&["--user", "7", "true"]).unwrap().user,
            Some(User { uid: 7, gid: None })
        );
    }

    #[test]
    fn a_level_names_the_flags_it_ignores_and_when_they_come() {
        let run = parse(&[
            "--memory",
            "64m",
            "--hostname",
            "x",
            "--pids-limit",
            "5",
            "true",
        ])
        .unwrap();
        assert_eq!(
            ignored_flags(&run, 3),
            [
                "ignoring --hostname: a hostname of its own comes at level 4",
                "ignoring --memory: memory limits come at level 9",
                "ignoring --pids-limit: process limits come at level 10",
            ]
        );
        assert_eq!(
            ignored_flags(&run, 9),
            ["ignoring --pids-limit: process limits come at level 10"]
        );
        assert!(ignored_flags(&run, 10).is_empty());
        // The default parent is no news; another one is.
        assert!(ignored_flags(&parse(&["true"]).unwrap(), 0).is_empty());
        let caged = parse(&["--cgroup-parent", "cage", "true"]).unwrap();
        assert_eq!(
            ignored_flags(&caged, 7),
            ["ignoring --cgroup-parent: cgroups come at level 8"]
        );
    }

    #[test]
    fn bad_input_is_a_usage_error_that_says_what_to_type() {
        assert_eq!(
            parse(&[]).unwrap_err().kind(),
            ErrorKind::MissingRequiredArgument
        );
        let e = parse(&["--memory", "12q", "true"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("64m"), "{e}");
        assert!(parse(&["--cpus", "-1", "true"])
            .unwrap_err()
            .to_string()
            .contains("positive"));
        assert!(parse(&["--user", "bob", "true"])
            .unwrap_err()
            .to_string()
            .contains("numeric"));
        assert!(parse(&["--pids-limit", "0", "true"]).is_err());
        assert_eq!(e.exit_code(), 2);
    }
}
