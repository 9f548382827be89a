//! The runtime's command line, the same for every level (see DESIGN.md, "The runtime contract").
//!
//! Every flag is accepted at every level; a level that has not reached a mechanism yet ignores
//! its flag. Names and meanings follow `docker run`.

use crate::size::parse_size;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::net::Ipv4Addr;
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
    /// The container's cgroup is PATH/<container-id>, in each v1 hierarchy or in the v2 tree
    /// (a leading `/` is the hierarchy's root, as in Docker: `/a` and `a` are the same group).
    #[arg(long, value_name = "PATH", default_value = "rubber-crab")]
    pub cgroup_parent: PathBuf,
    /// Run the command as this user (numeric UID[:GID]).
    #[arg(long, value_name = "UID[:GID]", value_parser = parse_user)]
    pub user: Option<User>,
    /// The container's address on its network cable (veth), in 10.13.0.0/24; 10.13.0.1 is the
    /// host's end [default: a free one].
    #[arg(long, value_name = "ADDR", value_parser = parse_ip)]
    pub ip: Option<Ipv4Addr>,
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
    ("--user", "switching users comes", 11),
    ("--ip", "a network cable comes", 13),
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
        "--user" => args.user.is_some(),
        "--ip" => args.ip.is_some(),
        _ => false,
    };
    LATER_FLAGS
        .iter()
        .filter(|&&(flag, _, at)| level < at && given(flag))
        .map(|(flag, what, at)| format!("ignoring {flag}: {what} at level {at}"))
        .collect()
}

/// Docker's smallest `--memory`: 6 MiB. Below it the command is OOM-killed before it can start.
pub const MIN_MEMORY: u64 = 6 << 20;
/// Docker's smallest `--cpus`: 0.01 (a quota of 1 ms in every 100 ms period, the kernel's least).
pub const MIN_CPUS: f64 = 0.01;
/// The most `--pids-limit` can be: the ceiling of `kernel.pid_max` (PID_MAX_LIMIT, 2^22 on 64-bit).
pub const MAX_PIDS: u64 = 1 << 22;
/// The longest hostname, in bytes: HOST_NAME_MAX (sethostname(2) refuses longer with EINVAL).
pub const MAX_HOSTNAME: usize = 64;

/// The flags [`validate`] checks after parsing, each by a rule of its own (the checker's broken
/// runtimes skip one at a time: see [`validate_except`]).
pub const CHECKED_FLAGS: &[&str] = &[
    "--image",
    "--hostname",
    "--cpus",
    "--memory",
    "--pids-limit",
    "--cgroup-parent",
    "--user",
    "--ip",
];

/// A flag and the check of its value.
type Rule<'a> = (&'static str, &'a dyn Fn() -> Result<(), String>);

/// Checks what clap's parsers cannot see alone (ranges, names, the host's CPU count), before
/// anything is created: the runtime exits 2 with this one line instead of failing half-way.
pub fn validate(args: &RunArgs) -> Result<(), String> {
    validate_except(args, &[])
}

/// [`validate`], skipping the rules of the flags in `skip`: for the checker's broken runtimes,
/// each of which forgets one check. A runtime should use [`validate`].
pub fn validate_except(args: &RunArgs, skip: &[&str]) -> Result<(), String> {
    let rules: [Rule; 8] = [
        ("--image", &|| check_image_name(&args.image)),
        ("--hostname", &|| {
            args.hostname.as_deref().map_or(Ok(()), check_hostname)
        }),
        ("--cpus", &|| {
            args.cpus.map_or(Ok(()), |c| check_cpus(c, host_cpus()))
        }),
        ("--memory", &|| args.memory.map_or(Ok(()), check_memory)),
        ("--pids-limit", &|| {
            args.pids_limit.map_or(Ok(()), check_pids_limit)
        }),
        ("--cgroup-parent", &|| {
            check_cgroup_parent(&args.cgroup_parent)
        }),
        ("--user", &|| args.user.map_or(Ok(()), check_user)),
        ("--ip", &|| args.ip.map_or(Ok(()), check_ip)),
    ];
    for (flag, rule) in rules {
        if !skip.contains(&flag) {
            rule()?;
        }
    }
    Ok(())
}

/// An image is a file `DIR/NAME.tar`: NAME must be a plain file name, so that neither the tar nor
/// the runtime's extracted copy (`DIR/NAME/`) can be anywhere but in DIR.
pub fn check_image_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains('/')
        && !name.chars().any(char::is_control);
    if plain {
        return Ok(());
    }
    Err(format!(
        "--image {name:?}: an image is a plain name like busybox (its tar is <image-dir>/NAME.tar; use --image-dir DIR for another directory)"
    ))
}

/// HOST_NAME_MAX bytes at most, and no control characters (a newline would be a second line in
/// every tool that prints the hostname).
pub fn check_hostname(name: &str) -> Result<(), String> {
    if name.chars().any(char::is_control) {
        return Err(format!(
            "--hostname {name:?}: a hostname cannot hold control characters such as a newline (try --hostname box)"
        ));
    }
    if name.is_empty() || name.len() > MAX_HOSTNAME {
        return Err(format!(
            "--hostname is {} bytes long: give 1 to {MAX_HOSTNAME} (HOST_NAME_MAX), like --hostname box",
            name.len()
        ));
    }
    Ok(())
}

/// Docker's range: 0.01 to the number of CPUs this process may run on.
pub fn check_cpus(cpus: f64, host: usize) -> Result<(), String> {
    if cpus < MIN_CPUS {
        return Err(format!(
            "--cpus {cpus}: the least is {MIN_CPUS} (1 ms of CPU in every 100 ms; try --cpus 0.5)"
        ));
    }
    if cpus > host as f64 {
        return Err(format!(
            "--cpus {cpus}: this host has only {host} CPU{}: give {MIN_CPUS} to {host}",
            if host == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// The CPUs this process may run on (sched_getaffinity), as Docker counts them.
fn host_cpus() -> usize {
    use nix::sched::{sched_getaffinity, CpuSet};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return usize::MAX;
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .count()
        .max(1)
}

/// Docker's least: 6 MiB.
pub fn check_memory(bytes: u64) -> Result<(), String> {
    if bytes < MIN_MEMORY {
        return Err(format!(
            "--memory {}: the least is {} (try --memory 64m)",
            crate::size::human(bytes),
            crate::size::human(MIN_MEMORY)
        ));
    }
    Ok(())
}

/// pids.max holds at most the ceiling of pid_max.
pub fn check_pids_limit(max: u64) -> Result<(), String> {
    if max > MAX_PIDS {
        return Err(format!(
            "--pids-limit {max}: the most is {MAX_PIDS} (the kernel's pid_max ceiling; try --pids-limit 100)"
        ));
    }
    Ok(())
}

/// A path below each hierarchy's root: no `..` (it would leave the tree, or the cage the caller
/// gave) and no control characters (a newline in a path breaks every tool that lists groups).
pub fn check_cgroup_parent(parent: &std::path::Path) -> Result<(), String> {
    let text = parent.to_string_lossy();
    if text.chars().any(char::is_control) {
        return Err(format!(
            "--cgroup-parent {text:?}: a group's name cannot hold control characters such as a newline (try --cgroup-parent rubber-crab)"
        ));
    }
    if parent
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!(
            "--cgroup-parent {text:?}: `..` would leave the cgroup tree; give a path below it, like rubber-crab"
        ));
    }
    Ok(())
}

/// (uid_t)-1, which setuid, setgid and chown read as "leave this id unchanged".
pub const UNCHANGED_ID: u32 = u32::MAX;

/// Neither id may be (uid_t)-1: setuid(-1) would fail with EINVAL half-way through the setup.
pub fn check_user(user: User) -> Result<(), String> {
    if user.uid == UNCHANGED_ID || user.gid == Some(UNCHANGED_ID) {
        return Err(format!(
            "--user: {UNCHANGED_ID} is (uid_t)-1, which setuid and setgid read as \"unchanged\": give an id below it (try --user 1000:1000)"
        ));
    }
    Ok(())
}

/// The network the runtime's containers are addressed in (the runtime contract): 10.13.0.0/24.
pub const IP_NETWORK: Ipv4Addr = Ipv4Addr::new(10, 13, 0, 0);
/// The bits of [`IP_NETWORK`] that name the network: a /24.
pub const IP_PREFIX_LEN: u8 = 24;
/// The host's end of every container's cable, and the containers' default gateway.
pub const IP_GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 13, 0, 1);

/// An address a container may have: in 10.13.0.0/24, and neither the network's own address
/// (.0), its broadcast address (.255) nor the host's end (.1).
pub fn check_ip(ip: Ipv4Addr) -> Result<(), String> {
    let [a, b, c, host] = ip.octets();
    let [na, nb, nc, _] = IP_NETWORK.octets();
    if [a, b, c] != [na, nb, nc] {
        return Err(format!(
            "--ip {ip}: containers live in {IP_NETWORK}/{IP_PREFIX_LEN}: give 10.13.0.2 to 10.13.0.254 (try --ip 10.13.0.7)"
        ));
    }
    let taken = match host {
        0 => "the network's own address",
        255 => "the network's broadcast address",
        1 => "the host's end of the cable",
        _ => return Ok(()),
    };
    Err(format!(
        "--ip {ip}: that is {taken}: give 10.13.0.2 to 10.13.0.254 (try --ip 10.13.0.7)"
    ))
}

fn parse_ip(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address (try 10.13.0.7)"))
}

/// `--memory-swap`: a size, or -1 for unlimited swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemorySwap {
    Unlimited,
    Bytes(u64),
}

/// `--user UID[:GID]`, numeric ids only: the runtime reads no `/etc/passwd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: Option<u32>,
}

impl User {
    /// The group to run as: the one given, else 0, root's group, which is what Docker gives
    /// `--user 1000` when the image's `/etc/passwd` does not name uid 1000.
    pub fn gid(&self) -> u32 {
        self.gid.unwrap_or(0)
    }
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
    let id = |text: &str| text.parse::<u32>().map_err(|_| bad());
    let uid = id(uid)?;
    let gid = gid.map(id).transpose()?;
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
        let user = parse(&["--user", "1000", "true"]).unwrap();
        assert_eq!(
            ignored_flags(&user, 10),
            ["ignoring --user: switching users comes at level 11"]
        );
        assert!(ignored_flags(&user, 11).is_empty());
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
        for bad in ["", ":", "1000:", ":1000", "-1", "4294967296", "1:2:3"] {
            assert!(parse(&["--user", bad, "true"]).is_err(), "{bad:?}");
        }
        assert!(parse(&["--pids-limit", "0", "true"]).is_err());
        assert_eq!(e.exit_code(), 2);
    }

    fn refused(args: &[&str]) -> String {
        let mut argv = args.to_vec();
        argv.push("true");
        let run = parse(&argv).expect("parses");
        let why = validate(&run).expect_err("validation should refuse it");
        assert!(!why.contains('\n'), "one line: {why:?}");
        why
    }

    #[test]
    fn a_user_id_is_never_the_unchanged_id() {
        for bad in ["4294967295", "1000:4294967295"] {
            assert!(refused(&["--user", bad]).contains("(uid_t)-1"), "{bad}");
        }
        assert!(validate(&parse(&["--user", "4294967294:0", "true"]).unwrap()).is_ok());
    }

    #[test]
    fn image_names_are_plain_names() {
        for bad in [
            "/tmp/x/abs-image",
            "../images/busybox",
            "a/b",
            "",
            ".",
            "..",
            ".hidden",
        ] {
            let why = refused(&["--image", bad]);
            assert!(why.contains("plain name"), "{bad}: {why}");
        }
        assert!(validate(&parse(&["--image", "busybox-1.36_x", "true"]).unwrap()).is_ok());
    }

    #[test]
    fn hostnames_are_at_most_64_bytes_without_control_characters() {
        let long = "h".repeat(300);
        let why = refused(&["--hostname", &long]);
        assert!(why.contains("300 bytes") && !why.contains(&long), "{why}");
        assert!(refused(&["--hostname", "a\nb"]).contains("control characters"));
        assert!(refused(&["--hostname", ""]).contains("1 to 64"));
        assert!(validate(&parse(&["--hostname", &"h".repeat(64), "true"]).unwrap()).is_ok());
    }

    #[test]
    fn cpus_range_from_a_hundredth_to_the_hosts_cpus() {
        assert!(check_cpus(0.0001, 4).unwrap_err().contains("least is 0.01"));
        assert!(check_cpus(4.5, 4).unwrap_err().contains("only 4 CPUs"));
        assert!(check_cpus(2.0, 1).unwrap_err().contains("only 1 CPU:"));
        assert!(check_cpus(0.01, 1).is_ok() && check_cpus(4.0, 4).is_ok());
        assert!(refused(&["--cpus", "0.0001"]).contains("0.01"));
    }

    #[test]
    fn memory_below_dockers_6_mib_is_refused_and_said_humanly() {
        let why = refused(&["--memory", "1"]);
        assert!(why.contains("--memory 1 B: the least is 6 MiB"), "{why}");
        assert!(refused(&["--memory", "0"]).contains("0 B"));
        assert!(validate(&parse(&["--memory", "6m", "true"]).unwrap()).is_ok());
    }

    #[test]
    fn pids_limit_is_at_most_the_pid_max_ceiling() {
        assert!(refused(&["--pids-limit", "4194305"]).contains("4194304"));
        assert!(validate(&parse(&["--pids-limit", "4194304", "true"]).unwrap()).is_ok());
    }

    #[test]
    fn a_cgroup_parent_stays_in_the_tree_and_has_no_control_characters() {
        assert!(refused(&["--cgroup-parent", "a\nb"]).contains("control characters"));
        assert!(refused(&["--cgroup-parent", "cage/../../x"]).contains("`..`"));
        assert!(refused(&["--cgroup-parent", ".."]).contains("`..`"));
        // A leading `/` is the hierarchy's root, as Docker reads it: allowed.
        assert!(validate(&parse(&["--cgroup-parent", "/etc", "true"]).unwrap()).is_ok());
    }

    #[test]
    fn a_broken_runtime_can_skip_one_rule() {
        let run = parse(&["--memory", "1", "--hostname", "a\nb", "true"]).unwrap();
        assert!(validate_except(&run, &["--memory"])
            .unwrap_err()
            .contains("--hostname"));
        assert!(validate_except(&run, &["--memory", "--hostname"]).is_ok());
    }

    #[test]
    fn an_ip_is_one_of_the_runtimes_and_not_taken() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(check_ip(ip("10.13.0.7")).is_ok());
        assert!(check_ip(ip("10.13.0.254")).is_ok());
        for (bad, says) in [
            ("10.13.0.0", "network's own"),
            ("10.13.0.1", "host's end"),
            ("10.13.0.255", "broadcast"),
            ("10.14.0.7", "containers live in 10.13.0.0/24"),
        ] {
            let why = check_ip(ip(bad)).unwrap_err();
            assert!(why.contains(says) && !why.contains('\n'), "{why}");
        }
        assert!(parse_ip("10.13.0.300")
            .unwrap_err()
            .contains("not an IPv4 address"));
    }
}
