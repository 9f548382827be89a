//! Shared helpers for the checker's end-to-end tests: run the real checker as root against real
//! runtimes, and make sure the host is the same afterwards.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// The end-to-end tests create namespaces and mounts: they need root. CI runs as root and skips
/// nothing; elsewhere each test says it was skipped.
pub fn root_or_skip(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!(
            "skipped {test}: needs root (run `sudo -E env \"PATH=$PATH\" cargo test` or use CI)"
        );
    }
    root
}

/// The tests of one file one at a time, where each asserts the host is as it was around every
/// checker run and that nothing of its runtimes is left running (the others' runs would change
/// both), or where two level-9 runs at once would only slow each other down.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the host has the memory and pids controllers the checker's cage needs.
pub fn has_cage_controllers() -> bool {
    let layout = checker::cgroups::Layout::of_host();
    ["memory", "pids"]
        .iter()
        .all(|controller| layout.holding(controller).is_some())
}

/// `--rootless` needs user namespaces; some hosts forbid them to users (a sysctl says why).
pub fn user_namespaces_or_skip(test: &str) -> bool {
    match checker::sandbox::user_namespaces_allowed() {
        Ok(()) => true,
        Err(why) => {
            eprintln!("skipped {test}: no user namespaces here ({why})");
            false
        }
    }
}

/// What the checker must never change on the host.
#[derive(Debug, PartialEq, Eq)]
pub struct Host {
    mounts: Vec<String>,
    hostname: String,
    links: Vec<String>,
    /// The groups under (and the parent) `rubber-crab/` in every hierarchy.
    cgroups: Vec<String>,
}

/// The host as the checker must leave it; what a [`Noise`] maker does is someone else's.
pub fn host() -> Host {
    let theirs = |s: &String| s.contains(NOISE_TAG);
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !theirs(name))
        .collect();
    links.sort();
    // Groups that runtimes create; the checker's own cages are checked per run (see `checker`).
    let mut cgroups: Vec<String> =
        checker::cgroups::runtime_groups(&checker::cgroups::Layout::of_host())
            .into_iter()
            .map(|g| g.dir.display().to_string())
            .chain(runtime_parents())
            .filter(|dir| !theirs(dir))
            .collect();
    cgroups.sort();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(probe::parse_mountinfo_line)
        .map(|m| format!("{} {} {}", m.mount_point, m.fstype, m.source))
        .filter(|m| !theirs(m))
        .collect();
    let hostname = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    Host {
        mounts,
        hostname,
        links,
        cgroups,
    }
}

/// `rubber-crab/` itself, in the hierarchies that have it.
fn runtime_parents() -> Vec<String> {
    checker::cgroups::Layout::of_host()
        .hierarchies
        .iter()
        .map(|h| h.mount_point.join(checker::cgroups::RUNTIME_PARENT))
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect()
}

/// The checker's cages (`rubber-crab-checker/<pid>-<nonce>`) of the checker with `pid`.
pub fn cages_of(pid: u32) -> Vec<std::path::PathBuf> {
    checker::cgroups::Layout::of_host()
        .hierarchies
        .iter()
        .flat_map(|h| {
            std::fs::read_dir(h.mount_point.join("rubber-crab-checker"))
                .into_iter()
                .flatten()
        })
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{pid}-"))
        })
        .collect()
}

/// Runs the checker with `args`, asserting the host's mount table, hostname, links and
/// `rubber-crab/` cgroups are unchanged, and that it removed every cage it made.
pub fn checker(args: &[&str]) -> Output {
    let before = host();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("checker"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        host(),
        before,
        "`checker {}` changed the host",
        args.join(" ")
    );
    assert_eq!(
        cages_of(pid),
        Vec::<std::path::PathBuf>::new(),
        "`checker {}` left cages",
        args.join(" ")
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub use kit::paths::workspace_root;

/// The broken runtime's faults, and what proves each one caught: the very table it dispatches
/// on, so that no fault goes untested.
#[path = "../broken/src/faults.rs"]
pub mod faults;

/// The broken runtime started as `fault` (a symlink named after it, in a temp dir).
pub fn broken(fault: &str, dir: &Path) -> PathBuf {
    let exe = checker::prepare::build_runtime("broken").expect("building the broken runtimes");
    let link = dir.join(fault);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(exe, &link).unwrap();
    link
}

/// The statuses of each check in a JSON report, as (id, status).
pub fn statuses(json: &str) -> Vec<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A terminal for the checker: a pseudo-terminal the test holds the other end of.
pub struct Terminal {
    master: std::fs::File,
    /// Kept open so the terminal's settings can be read after the checker exits.
    slave: std::os::fd::OwnedFd,
    seen: String,
}

impl Terminal {
    pub fn open() -> Self {
        let pty = nix::pty::openpty(None, None).unwrap();
        // Reads give up after 0.1 s, so `expect` can keep to its deadline.
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&pty.master),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        Self {
            master: pty.master.into(),
            slave: pty.slave,
            seen: String::new(),
        }
    }

    /// `checker args` in a session of its own, with this terminal as its controlling terminal
    /// and NO_COLOR unset.
    pub fn checker(&self, args: &[&str]) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("checker"));
        cmd.args(args)
            .env_remove("NO_COLOR")
            .stdin(self.slave.try_clone().unwrap())
            .stdout(self.slave.try_clone().unwrap())
            .stderr(self.slave.try_clone().unwrap());
        // SAFETY: setsid and ioctl are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd
    }

    /// Reads until `text` has appeared since the last call, or panics after `secs`; returns
    /// what came up to and with it.
    pub fn expect(&mut self, text: &str, secs: u64) -> String {
        use std::io::Read;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        while !self.seen.contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {text:?} on the terminal within {secs} s; it shows:\n{}",
                self.seen
            );
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
        let end = self.seen.find(text).unwrap() + text.len();
        self.seen.drain(..end).collect()
    }

    /// Everything on the terminal not yet returned, once its writer is done.
    pub fn rest(&mut self) -> String {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = self.master.read(&mut buf) {
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        std::mem::take(&mut self.seen)
    }

    pub fn press(&mut self, keys: &[u8]) {
        use std::io::Write;
        self.master.write_all(keys).unwrap();
    }

    /// Whether the terminal reads lines and echoes them (the shell's way), or single keys.
    pub fn reads_lines(&self) -> bool {
        let modes = nix::sys::termios::tcgetattr(&self.slave).unwrap();
        modes
            .local_flags
            .contains(nix::sys::termios::LocalFlags::ICANON)
            && modes
                .local_flags
                .contains(nix::sys::termios::LocalFlags::ECHO)
    }
}

/// In the names of everything a [`Noise`] maker makes: its dir, links and groups.
pub const NOISE_TAG: &str = "rcnoise";

/// Someone else at work on the host while the checker runs (another container engine, an
/// automounter, a VPN): over and over, it mounts a tmpfs (under a shared mount of its own, so
/// that, as on a systemd host, the mount propagates into every slave of it, the checker's
/// sandboxes too), adds a tun link, and starts a "container" in `rubber-crab/<its id>` groups with
/// a live `sleep` in them; then undoes each. It checks that nobody touched its groups or killed
/// its processes: it ends them itself, by pid.
pub struct Noise {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    maker: Option<std::thread::JoinHandle<NoiseLog>>,
}

/// What a noise maker did, and what went wrong with its things.
#[derive(Debug, Default)]
pub struct NoiseLog {
    pub rounds: usize,
    /// Foreign processes it started and ended itself, by SIGTERM.
    pub processes: usize,
    /// Rounds whose link was already gone when it came to delete it (this machine's own tooling
    /// deletes unknown links by itself).
    pub links_gone: usize,
    pub problems: Vec<String>,
}

impl Noise {
    pub fn start() -> Noise {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (ready, set_up) = std::sync::mpsc::channel();
        let maker = std::thread::spawn(move || make_noise(&flag, &ready));
        // The checker's runs start once its shared mount and the groups' parents are there.
        set_up.recv().unwrap();
        Noise {
            stop,
            maker: Some(maker),
        }
    }

    /// Stops it; what it did.
    pub fn stop(mut self) -> NoiseLog {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.maker.take().unwrap().join().unwrap()
    }
}

impl Drop for Noise {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(maker) = self.maker.take() {
            let _ = maker.join();
        }
    }
}

fn make_noise(
    stop: &std::sync::atomic::AtomicBool,
    ready: &std::sync::mpsc::Sender<()>,
) -> NoiseLog {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let dir = tempfile::Builder::new()
        .prefix(NOISE_TAG)
        .tempdir()
        .unwrap();
    let shared = dir.path().to_path_buf();
    mount(
        Some(&shared),
        &shared,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    mount(
        None::<&str>,
        &shared,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let parents = noise_parents();
    // A long-running container too, from start to end: it also keeps the parents in use.
    let resident = ForeignContainer::start(&format!("{NOISE_TAG}-{}-resident", std::process::id()));
    let mut log = NoiseLog::default();
    ready.send(()).unwrap();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let round = log.rounds;
        let target = shared.join(format!("m{round}"));
        std::fs::create_dir(&target).unwrap();
        mount(
            Some("noise"),
            &target,
            Some("tmpfs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let link = format!("{NOISE_TAG}{}", round % 100);
        let tun = checker::links::attach_tun(&link, (libc::IFF_TUN | libc::IFF_NO_PI) as i16)
            .and_then(|tun| checker::links::set_persist(&tun, true));
        // Named as containers are: a hex id under rubber-crab/ (not one of the checker's ids),
        // or one in the cage of another, live checker (this process stands for it).
        let id = format!("{:012x}", 0x5eed_0000_0000_u64 + round as u64);
        let container = match round % 2 {
            0 => ForeignContainer::start(&id),
            _ => ForeignContainer::start_at(&format!(
                "rubber-crab-checker/{}-{id}/containers/{id}",
                std::process::id()
            )),
        };
        // Long enough to span the start or the end of a check now and then.
        std::thread::sleep(std::time::Duration::from_millis(
            150 + 97 * (round as u64 % 5),
        ));
        log.problems.extend(container.stop());
        log.processes += 1;
        if tun.is_ok() && !checker::links::remove_leaked(&link) {
            log.links_gone += 1;
        }
        umount2(&target, MntFlags::MNT_DETACH).unwrap();
        std::fs::remove_dir(&target).unwrap();
        log.rounds += 1;
    }
    log.problems.extend(resident.stop());
    log.processes += 1;
    umount2(&shared, MntFlags::MNT_DETACH).unwrap();
    for parent in parents {
        let _ = std::fs::remove_dir(parent);
    }
    log
}

/// Set in the copy of a test that [`in_a_namespace_of_its_own`] runs.
const ISOLATED: &str = "RUBBER_CRAB_TEST_ISOLATED";

/// The cgroup hierarchy, seen only in that namespace, where a noise maker's containers go.
const NOISE_HIERARCHY: &str = "name=rcnoise";

/// Runs `test` (the caller) again, alone, in a child process with a mount namespace of its own
/// that holds a cgroup hierarchy only it sees ([`NOISE_HIERARCHY`]): a noise maker's containers
/// go there, where checkers of other checkouts on this host (older ones kill any new group
/// under `rubber-crab/`) cannot touch them, while the checker under test sees that hierarchy as
/// it sees every other. True in the child: go on with the test. False in the parent, once the
/// child has passed.
pub fn in_a_namespace_of_its_own(test: &str) -> bool {
    if !rerun_alone_in(test, ISOLATED, nix::sched::CloneFlags::CLONE_NEWNS) {
        return false;
    }
    // Seen in this namespace only; the same dir serves every run.
    let point = workspace_root().join("target").join(NOISE_TAG);
    std::fs::create_dir_all(&point).unwrap();
    nix::mount::mount(
        Some("cgroup"),
        &point,
        Some("cgroup"),
        nix::mount::MsFlags::empty(),
        Some(format!("none,{NOISE_HIERARCHY}").as_str()),
    )
    .unwrap();
    true
}

/// Runs `test` (the caller) again, alone, in a child process with the `namespaces` of its own
/// (a mount namespace among them, its mounts made private), marked by the environment variable
/// `marker`. True in the child: go on with the test. False in the parent, once the child has
/// passed.
pub fn rerun_alone_in(test: &str, marker: &str, namespaces: nix::sched::CloneFlags) -> bool {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(marker).is_some() {
        return true;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap());
    child
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(marker, "1");
    // SAFETY: unshare and mount are async-signal-safe; the child is single-threaded here.
    unsafe {
        child.pre_exec(move || {
            nix::sched::unshare(namespaces)?;
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
                None::<&str>,
            )?;
            Ok(())
        });
    }
    let status = child.status().unwrap();
    assert!(
        status.success(),
        "{test}, in namespaces of its own ({namespaces:?}): {status}"
    );
    false
}

/// Where a noise maker's containers go: the hierarchy of [`in_a_namespace_of_its_own`] when
/// there is one, else every hierarchy.
fn noise_hierarchies() -> Vec<PathBuf> {
    let layout = checker::cgroups::Layout::of_host();
    let own: Vec<PathBuf> = layout
        .hierarchies
        .iter()
        .filter(|h| h.name == NOISE_HIERARCHY)
        .map(|h| h.mount_point.clone())
        .collect();
    if !own.is_empty() {
        return own;
    }
    layout
        .hierarchies
        .iter()
        .map(|h| h.mount_point.clone())
        .collect()
}

/// `rubber-crab/` in every hierarchy, made now where it is missing (and returned, to be removed
/// at the end): a parent that comes and goes would race with the checker's runs.
fn noise_parents() -> Vec<PathBuf> {
    noise_hierarchies()
        .iter()
        .map(|h| h.join(checker::cgroups::RUNTIME_PARENT))
        .filter(|p| !p.is_dir() && std::fs::create_dir(p).is_ok())
        .collect()
}

/// Another engine's container: `rubber-crab/<id>` in the noise's hierarchies, a `sleep` in them.
struct ForeignContainer {
    groups: Vec<PathBuf>,
    /// Dirs made above the groups, removed after them (deepest first).
    parents: Vec<PathBuf>,
    process: std::process::Child,
}

impl ForeignContainer {
    fn start(id: &str) -> ForeignContainer {
        ForeignContainer::start_at(&format!("{}/{id}", checker::cgroups::RUNTIME_PARENT))
    }

    /// A container whose group is `relative` in each of the noise's hierarchies.
    fn start_at(relative: &str) -> ForeignContainer {
        let process = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let mut parents = Vec::new();
        for hierarchy in noise_hierarchies() {
            let missing = Path::new(relative)
                .ancestors()
                .skip(1)
                .map(|a| hierarchy.join(a))
                .take_while(|dir| dir != &hierarchy && !dir.exists())
                .collect::<Vec<_>>();
            for dir in missing.iter().rev() {
                let _ = std::fs::create_dir(dir);
            }
            parents.extend(missing);
        }
        let groups: Vec<PathBuf> = noise_hierarchies()
            .iter()
            .map(|h| h.join(relative))
            .filter(|g| std::fs::create_dir(g).is_ok())
            .collect();
        for group in &groups {
            // Some v1 controllers (cpuset) take no process until configured: the others do.
            let _ = std::fs::write(group.join("cgroup.procs"), process.id().to_string());
        }
        ForeignContainer {
            groups,
            parents,
            process,
        }
    }

    /// Ends the container as its engine would, and says what someone else did to it.
    fn stop(mut self) -> Vec<String> {
        use std::os::unix::process::ExitStatusExt;
        let mut problems = Vec::new();
        let pid = self.process.id();
        match self.process.try_wait().unwrap() {
            None => {}
            Some(status) => problems.push(format!("foreign process {pid} died: {status:?}")),
        }
        for group in &self.groups {
            if !group.is_dir() {
                problems.push(format!("foreign group {} was removed", group.display()));
            }
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let status = self.process.wait().unwrap();
        if problems.is_empty() && status.signal() != Some(libc::SIGTERM) {
            problems.push(format!(
                "foreign process {pid} ended with {status:?}, not SIGTERM"
            ));
        }
        for group in &self.groups {
            remove_emptied(group);
        }
        for parent in &self.parents {
            let _ = std::fs::remove_dir(parent);
        }
        problems
    }
}

/// rmdir once the group's last process has left it (a dead process leaves a moment later).
fn remove_emptied(group: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::fs::remove_dir(group).is_err_and(|e| e.kind() != std::io::ErrorKind::NotFound)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
