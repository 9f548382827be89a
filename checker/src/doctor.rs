//! `checker doctor`: can this machine run the workshop? An instructor runs it on each room
//! machine beforehand. Every fact is found by trying, never guessed from a version number: a
//! scratch cgroup under `rubber-crab-checker/doctor-<pid>` (limits written, a process attached,
//! then removed), each namespace, an overlay mount and a veth pair in a child process whose
//! namespaces end with it. Only what the doctor made is removed; nothing else on the host is
//! written (on cgroup v2 the root's `cgroup.subtree_control` is read, never changed).

use crate::cgroups::{self, Layout};
use crate::exit::{self, NotRoot};
use crate::levels::l12::{CAPABILITY_VERSION_3, DOCKER_CAPS};
use crate::options::Format;
use crate::report::HostFacts;
use anyhow::{Context, Result};
use colored::Colorize;
use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The controllers the cgroup levels use.
const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];
/// The namespaces the levels create, with the flag that makes each.
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("mount", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("net", CloneFlags::CLONE_NEWNET),
];
/// The user the doctor becomes to learn whether users may create user namespaces (nobody).
const NOBODY: u32 = 65534;

/// `checker doctor [--format human|json]`: exit 0 when every level of the ladder can run here,
/// 3 when some cannot.
pub fn doctor(format: Format) -> Result<u8> {
    if !nix::unistd::geteuid().is_root() {
        return Err(NotRoot(format!(
            "checker doctor tries cgroups, namespaces and mounts: it needs root. Run:\n  sudo -E env \"PATH=$PATH\" {} doctor",
            crate::options::shown_exe()
        ))
        .into());
    }
    let layout = cgroups::host_layout();
    remove_stale_scratch_groups(layout);
    let facts = Facts::probe(layout);
    let diagnosis = Diagnosis::of(facts, kit::ladder::LADDER);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&diagnosis)?),
        Format::Human => {
            crate::report::set_colour(std::io::stdout().is_terminal());
            print!("{}", diagnosis.human());
        }
    }
    Ok(diagnosis.exit_code)
}

/// `checker doctor --format json` (README, "For instructors"): fields are never renamed.
#[derive(Serialize)]
pub struct Diagnosis {
    pub schema: u32,
    /// `ready` (every level can run here) or `not ready`.
    pub result: &'static str,
    pub exit_code: u8,
    /// The same facts as a check report's `host`, so that both read alike.
    pub host: HostFacts,
    #[serde(flatten)]
    pub facts: Facts,
    pub levels: Vec<LevelVerdict>,
}

/// What was tried on this machine, and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub cgroups: CgroupFacts,
    /// One per namespace the levels create: `mount`, `uts`, `ipc`, `pid`, `net`.
    pub namespaces: Vec<Probe>,
    /// Whether a user (not root) may create a user namespace: what `--rootless` needs.
    pub user_namespaces: Probe,
    pub overlayfs: Probe,
    /// Whether a child can become another user (setgroups, setgid, setuid): level 11.
    pub user: Probe,
    /// Whether a child can drop to Docker's capabilities and set no_new_privs: level 12.
    pub capabilities: Probe,
    pub veth: Probe,
}

/// One thing tried: whether it worked, and what was done or what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Probe {
    fn new(name: &str, ok: bool, detail: impl Into<String>) -> Probe {
        Probe {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CgroupFacts {
    /// `v1`, `v2`, `hybrid` or `none`.
    pub layout: &'static str,
    /// The v2 tree's root, where there is one.
    pub v2_root: Option<V2Root>,
    /// `cpu`, `memory` and `pids`, in that order.
    pub controllers: Vec<ControllerFacts>,
    /// Whether the memory controller counts swap (v1 `memory.memsw.*`, v2 `memory.swap.max`).
    pub swap_accounting: Probe,
}

/// The root of the v2 tree: what it offers its children and what it hands them already.
#[derive(Debug, Clone, Serialize)]
pub struct V2Root {
    pub path: String,
    /// Its `cgroup.controllers`.
    pub controllers: Vec<String>,
    /// Its `cgroup.subtree_control`: the controllers its children get.
    pub subtree_control: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControllerFacts {
    pub name: &'static str,
    /// `v1` or `v2`; null when no hierarchy holds it.
    pub version: Option<&'static str>,
    /// The mount point of the hierarchy that holds it.
    pub hierarchy: Option<String>,
    /// Children of the hierarchy's root get it now (always so on v1; on v2, the root's
    /// `cgroup.subtree_control` lists it).
    pub delegated: bool,
    pub ok: bool,
    pub detail: String,
}

/// Whether a level of the ladder can be checked here.
#[derive(Debug, Clone, Serialize)]
pub struct LevelVerdict {
    pub level: u32,
    pub dir: &'static str,
    pub title: &'static str,
    pub runs: bool,
    /// It can be checked without root, with `--rootless`.
    pub rootless: bool,
    /// Why it cannot run, and what to do: the first missing piece of this level or one below it.
    pub why: Option<String>,
}

/// Something a level needs from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Namespace(&'static str),
    Overlay,
    Controller(&'static str),
    SwapAccounting,
    User,
    Capabilities,
    Veth,
}

/// What level `level` adds to what the levels below it need (LEVELS.md).
fn needs(level: u32) -> &'static [Need] {
    match level {
        2 => &[Need::Namespace("mount")],
        4 => &[Need::Namespace("uts"), Need::Namespace("ipc")],
        5 => &[Need::Namespace("pid")],
        6 => &[Need::Namespace("net")],
        7 => &[Need::Overlay],
        8 => &[Need::Controller("cpu")],
        9 => &[Need::Controller("memory"), Need::SwapAccounting],
        10 => &[Need::Controller("pids")],
        11 => &[Need::User],
        12 => &[Need::Capabilities],
        13 => &[Need::Veth],
        _ => &[],
    }
}

impl Facts {
    /// Tries everything, as root.
    fn probe(layout: &Layout) -> Facts {
        let mut swap_file = None;
        let controllers = CONTROLLERS
            .iter()
            .map(|&c| probe_controller(c, &placement(layout, c), &mut swap_file))
            .collect();
        Facts {
            cgroups: CgroupFacts {
                layout: layout.kind(),
                v2_root: v2_root(layout),
                controllers,
                swap_accounting: swap_accounting(swap_file, swaps_on()),
            },
            namespaces: NAMESPACES
                .iter()
                .map(|&(name, flag)| probe_namespace(name, flag))
                .collect(),
            user_namespaces: probe_user_namespaces(),
            overlayfs: probe_overlayfs(),
            user: probe_user(),
            capabilities: probe_capabilities(),
            veth: probe_veth(),
        }
    }

    /// Why `need` is not met here (what failed and what to do), or None.
    fn problem(&self, need: Need) -> Option<String> {
        let failed = |p: &Probe| (!p.ok).then(|| format!("{}: {}", p.name, p.detail));
        match need {
            Need::Namespace(name) => self
                .namespaces
                .iter()
                .find(|p| p.name == format!("{name} namespace"))
                .and_then(failed),
            Need::Overlay => failed(&self.overlayfs),
            Need::User => failed(&self.user),
            Need::Capabilities => failed(&self.capabilities),
            Need::Veth => failed(&self.veth),
            Need::SwapAccounting => failed(&self.cgroups.swap_accounting),
            Need::Controller(name) => self
                .cgroups
                .controllers
                .iter()
                .find(|c| c.name == name && !c.ok)
                .map(|c| format!("the {name} controller: {}", c.detail)),
        }
    }

    /// Level `level` and every level below it have what they need.
    fn verdict(&self, level: &kit::ladder::Level) -> LevelVerdict {
        let why = (0..=level.number)
            .flat_map(|n| needs(n).iter())
            .find_map(|&need| self.problem(need));
        let rootless = why.is_none()
            && self.user_namespaces.ok
            && (0..=level.number).all(|n| crate::rootless::blocker(n).is_none());
        LevelVerdict {
            level: level.number,
            dir: level.dir,
            title: level.title,
            runs: why.is_none(),
            rootless,
            why,
        }
    }
}

impl Diagnosis {
    fn of(facts: Facts, ladder: &[kit::ladder::Level]) -> Diagnosis {
        let levels: Vec<LevelVerdict> = ladder.iter().map(|l| facts.verdict(l)).collect();
        let ready = levels.iter().all(|l| l.runs);
        let mut host = HostFacts::read();
        host.cage = cage(&facts.cgroups.controllers);
        Diagnosis {
            schema: 1,
            result: if ready { "ready" } else { "not ready" },
            exit_code: if ready {
                exit::PASSED
            } else {
                exit::ENVIRONMENT
            },
            host,
            facts,
            levels,
        }
    }

    /// The report for people: the facts, then one line per level.
    fn human(&self) -> String {
        let mark = |ok: bool| if ok { "✓".green() } else { "✗".red() };
        let host = &self.host;
        let mut out = format!(
            "{}\n\n  kernel      {} {}\n  cgroups     {}\n",
            "rubber-crab doctor: can this machine run the workshop?".bold(),
            host.kernel,
            host.arch,
            layout_line(self.facts.cgroups.layout, &host.cgroup_hierarchies)
        );
        if let Some(root) = &self.facts.cgroups.v2_root {
            let listed = |names: &[String]| match names {
                [] => "none".to_string(),
                names => names.join(", "),
            };
            out.push_str(&format!(
                "  v2 root     {}: controllers it has: {}; enabled for the groups below it: {}\n",
                root.path,
                listed(&root.controllers),
                listed(&root.subtree_control)
            ));
        }
        for c in &self.facts.cgroups.controllers {
            out.push_str(&format!("  {} {:<9} {}\n", mark(c.ok), c.name, c.detail));
        }
        let probes = std::iter::once(&self.facts.cgroups.swap_accounting)
            .chain(&self.facts.namespaces)
            .chain([
                &self.facts.user_namespaces,
                &self.facts.overlayfs,
                &self.facts.user,
                &self.facts.capabilities,
                &self.facts.veth,
            ]);
        for p in probes {
            out.push_str(&format!("  {} {}: {}\n", mark(p.ok), p.name, p.detail));
        }
        out.push_str(&format!(
            "  cage        {}\n\n{}\n",
            host.cage,
            "Levels".bold()
        ));
        for l in &self.levels {
            let rootless = if l.rootless {
                "  (also --rootless)"
            } else {
                ""
            };
            out.push_str(&format!(
                "  {} level{:<3} {}{}\n",
                mark(l.runs),
                l.level,
                l.title,
                rootless.dimmed()
            ));
            if let Some(why) = &l.why {
                out.push_str(&format!("      {why}\n"));
            }
        }
        let blocked = self.levels.iter().filter(|l| !l.runs).count();
        out.push_str(&match blocked {
            0 => format!("\n{}\n", "Every level can run here.".green().bold()),
            n => format!(
                "\n{}\n",
                format!(
                    "{n} of {} levels cannot run here: see why above.",
                    self.levels.len()
                )
                .red()
                .bold()
            ),
        });
        out
    }
}

/// `hybrid: v1 cpu, memory, …; v2 /sys/fs/cgroup/unified`, from `HostFacts`' hierarchies
/// (`memory /sys/fs/cgroup/memory`, `unified /sys/fs/cgroup`).
fn layout_line(kind: &str, hierarchies: &[String]) -> String {
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for (name, dir) in hierarchies.iter().filter_map(|h| h.split_once(' ')) {
        if name == "unified" {
            v2.push(dir);
        } else {
            v1.push(name);
        }
    }
    let mut parts = Vec::new();
    if !v1.is_empty() {
        parts.push(format!("v1 {}", v1.join(", ")));
    }
    if !v2.is_empty() {
        parts.push(format!("v2 {}", v2.join(", ")));
    }
    if parts.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {}", parts.join("; "))
    }
}

/// What the checker's cage would hold here (`report::HostFacts::cage`'s words).
fn cage(controllers: &[ControllerFacts]) -> String {
    let ok = |name: &str| controllers.iter().any(|c| c.name == name && c.ok);
    let mut limits = Vec::new();
    if ok("memory") {
        limits.push(format!("memory {} MiB", cgroups::MEMORY_LIMIT >> 20));
    }
    if ok("pids") {
        limits.push(format!("{} processes", cgroups::PIDS_LIMIT));
    }
    if limits.is_empty() {
        return "none (no memory or pids controller): runs are bounded by their process group only"
            .into();
    }
    format!("{}, per run", limits.join(", "))
}

/// Where a controller is to be had on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placement {
    /// A v1 hierarchy, mounted here, holds it.
    V1(PathBuf),
    /// The v2 tree rooted here offers it; `enabled`: the root hands it to its children already.
    V2 { root: PathBuf, enabled: bool },
    /// Nowhere: what to do about it.
    Missing(String),
}

/// Where `controller` is, as the checker finds it (`Layout::group_dir`).
fn placement(layout: &Layout, controller: &str) -> Placement {
    match layout.group_dir(controller, "") {
        // `join("")` leaves a trailing slash; components drop it.
        Some(root) => {
            let root: PathBuf = root.components().collect();
            if is_v2(&root) {
                let enabled = words(&root.join("cgroup.subtree_control"))
                    .iter()
                    .any(|c| c == controller);
                Placement::V2 { root, enabled }
            } else {
                Placement::V1(root)
            }
        }
        None => Placement::Missing(missing(layout, controller)),
    }
}

/// What to do when no hierarchy holds `controller`, for each layout.
fn missing(layout: &Layout, c: &str) -> String {
    let mount_v1 =
        format!("mkdir -p /sys/fs/cgroup/{c} && mount -t cgroup -o {c} cgroup /sys/fs/cgroup/{c}");
    match layout.kind() {
        "none" => "no cgroup filesystem is mounted: mount the v2 tree: mount -t cgroup2 cgroup2 /sys/fs/cgroup".into(),
        "v1" => format!("no v1 hierarchy holds it: mount one: {mount_v1}"),
        "hybrid" => format!(
            "no v1 hierarchy holds it and the v2 tree does not offer it: mount one ({mount_v1}) or boot with systemd.unified_cgroup_hierarchy=1"
        ),
        _ => format!(
            "the v2 tree's root does not offer it (its cgroup.controllers): boot with cgroup_enable={c}, or, in a container, have its host delegate {c} to it"
        ),
    }
}

/// A v2 group has `cgroup.controllers`; a v1 one never does.
fn is_v2(dir: &Path) -> bool {
    dir.join("cgroup.controllers").exists()
}

/// The words of a cgroup file such as `cgroup.subtree_control`; none when unreadable.
fn words(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The root of the v2 tree, where one is mounted (on a hybrid host, beside the v1 hierarchies).
fn v2_root(layout: &Layout) -> Option<V2Root> {
    let root = &layout
        .hierarchies
        .iter()
        .find(|h| h.name == "unified")?
        .mount_point;
    Some(V2Root {
        path: root.display().to_string(),
        controllers: words(&root.join("cgroup.controllers")),
        subtree_control: words(&root.join("cgroup.subtree_control")),
    })
}

/// Tries `controller` where it is: a scratch group with the levels' limits written and a
/// process attached. On v2, a controller the root does not hand out yet is only read about:
/// enabling it there would change the host (the checker does it when it runs).
fn probe_controller(
    controller: &'static str,
    placement: &Placement,
    swap_file: &mut Option<Option<&'static str>>,
) -> ControllerFacts {
    let facts = |version, root: &Path, delegated, ok, detail| ControllerFacts {
        name: controller,
        version: Some(version),
        hierarchy: Some(root.display().to_string()),
        delegated,
        ok,
        detail,
    };
    match placement {
        Placement::Missing(what_to_do) => ControllerFacts {
            name: controller,
            version: None,
            hierarchy: None,
            delegated: false,
            ok: false,
            detail: what_to_do.clone(),
        },
        Placement::V2 {
            root,
            enabled: false,
        } => match cannot_enable(root) {
            Some(why) => facts("v2", root, false, false, why),
            None => facts(
                "v2",
                root,
                false,
                true,
                format!(
                    "v2 {}: offered, not handed to children yet; the checker enables it (echo +{controller} > {}/cgroup.subtree_control); not tried, since that changes the host",
                    root.display(),
                    root.display()
                ),
            ),
        },
        Placement::V1(root) | Placement::V2 { root, .. } => {
            let unified = matches!(placement, Placement::V2 { .. });
            let version = if unified { "v2" } else { "v1" };
            match trial(root, unified, controller) {
                Ok(tried) => {
                    if controller == "memory" {
                        *swap_file = Some(tried.swap_file);
                    }
                    let files: Vec<&str> = tried
                        .written
                        .iter()
                        .filter_map(|w| w.split(' ').next())
                        .collect();
                    let detail = format!(
                        "{version} {}: a scratch group took {} and a process",
                        root.display(),
                        files.join(", ")
                    );
                    facts(version, root, true, true, detail)
                }
                Err(e) => facts(version, root, true, false, format!("{e:#}")),
            }
        }
    }
}

/// Why controllers cannot be enabled below the v2 root `root`: it is a container's group (a
/// cgroup namespace's root has `cgroup.type`, the real root has not) with processes in it.
fn cannot_enable(root: &Path) -> Option<String> {
    let namespace_root = root.join("cgroup.type").exists();
    (namespace_root && !cgroups::members(root).is_empty()).then(|| {
        format!(
            "offered but not enabled at {}, which is a container's group with processes in it: v2 enables no controller below a group with processes; run the workshop on the host, or move those processes into a leaf group first",
            root.display()
        )
    })
}

/// What a trial in a scratch group did.
struct Tried {
    /// The files written, with their values.
    written: Vec<String>,
    /// The file that limits swap, when the kernel accounts it (memory only).
    swap_file: Option<&'static str>,
}

/// Makes `rubber-crab-checker/doctor-<pid>/container`, writes the level's limits into it,
/// attaches a process, and removes what it made.
fn trial(root: &Path, unified: bool, controller: &str) -> Result<Tried> {
    let scratch = Scratch::create(root, unified, controller)?;
    let (written, swap_file) = write_limits(&scratch.container, unified, controller)?;
    attach_a_process(&scratch.container)?;
    Ok(Tried { written, swap_file })
}

/// The doctor's scratch groups, removed (only what it made) when dropped.
struct Scratch {
    /// `rubber-crab-checker/`, when the doctor made it.
    made_parent: Option<PathBuf>,
    doctor: PathBuf,
    container: PathBuf,
}

impl Scratch {
    fn create(root: &Path, unified: bool, controller: &str) -> Result<Scratch> {
        let doctor = root.join(cgroups::cage_path(&scratch_name()));
        let parent = doctor
            .parent()
            .context("a scratch group has a parent")?
            .to_path_buf();
        // A checker removes `rubber-crab-checker/` when its last cage goes, maybe between our
        // two mkdirs: then try once more.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let made = match std::fs::create_dir(&parent) {
                Ok(()) => true,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e).with_context(|| format!("creating {}", parent.display())),
            };
            let scratch = Scratch {
                made_parent: made.then(|| parent.clone()),
                container: doctor.join("container"),
                doctor: doctor.clone(),
            };
            match scratch.make(&parent, unified, controller) {
                Ok(()) => return Ok(scratch),
                Err(e) if attempts < 2 && is_not_found(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The doctor's group and the container's below `parent`; on v2 each group above the
    /// container hands the controller down (the root already does).
    fn make(&self, parent: &Path, unified: bool, controller: &str) -> Result<()> {
        if unified {
            enable(parent, controller)?;
        }
        make_group(&self.doctor)?;
        if unified {
            enable(&self.doctor, controller)?;
        }
        make_group(&self.container)
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = cgroups::remove_group(&self.doctor);
        if let Some(parent) = &self.made_parent {
            // Another checker may have started using it meanwhile: then it stays (EBUSY).
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// `doctor-<pid>`: never taken for a checker's cage (`<pid>-<nonce>`).
fn scratch_name() -> String {
    format!("doctor-{}", std::process::id())
}

fn make_group(dir: &Path) -> Result<()> {
    std::fs::create_dir(dir).with_context(|| format!("creating the group {}", dir.display()))
}

/// v2: lets the children of `group` have `controller`.
fn enable(group: &Path, controller: &str) -> Result<()> {
    let file = group.join("cgroup.subtree_control");
    if words(&file).iter().any(|c| c == controller) {
        return Ok(());
    }
    std::fs::write(&file, format!("+{controller}"))
        .with_context(|| format!("writing +{controller} to {}", file.display()))
}

/// The limits a level writes, as its checks ask for them (`--cpus 0.5 --cpu-shares 512`,
/// `--memory 64m --memory-swap 64m`, `--pids-limit 20`). Returns what was written, and the file
/// that limits swap where the kernel accounts it.
fn write_limits(
    dir: &Path,
    unified: bool,
    controller: &str,
) -> Result<(Vec<String>, Option<&'static str>)> {
    let (limits, swap): (&[(&str, &str)], _) = match (controller, unified) {
        ("cpu", false) => (
            &[
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.shares", "512"),
            ],
            None,
        ),
        ("cpu", true) => (&[("cpu.max", "50000 100000"), ("cpu.weight", "20")], None),
        ("memory", false) => (
            &[("memory.limit_in_bytes", "67108864")],
            Some(("memory.memsw.limit_in_bytes", "67108864")),
        ),
        ("memory", true) => (
            &[("memory.max", "67108864")],
            Some(("memory.swap.max", "0")),
        ),
        _ => (&[("pids.max", "20")], None),
    };
    // The swap file exists only where the kernel accounts swap.
    let swap = swap.filter(|(file, _)| dir.join(file).exists());
    let mut written = Vec::new();
    for (file, value) in limits.iter().chain(swap.iter()) {
        let path = dir.join(file);
        std::fs::write(&path, value)
            .with_context(|| format!("writing {value} to {}", path.display()))?;
        written.push(format!("{file} {value}"));
    }
    Ok((written, swap.map(|(file, _)| file)))
}

/// A child process joins the group (as a runtime's child does before it execs), then exits.
fn attach_a_process(dir: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .with_context(|| format!("opening {}/cgroup.procs", dir.display()))?;
    let fd = procs.as_raw_fd();
    in_child(|| {
        // SAFETY: write(2) of a static buffer to a descriptor this process holds open.
        let wrote = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        Errno::result(wrote).map(drop)
    })
    .map_err(|e| anyhow::anyhow!("attaching a process to {}: {e}", dir.display()))
}

/// Swap accounting, from the file the memory trial found (None: the trial did not run), and
/// whether swap is on: unaccounted swap only matters when there is swap.
fn swap_accounting(file: Option<Option<&str>>, swap_on: bool) -> Probe {
    let name = "swap accounting";
    match (file, swap_on) {
        (Some(Some(file)), _) => Probe::new(name, true, format!("yes ({file})")),
        (Some(None), false) => Probe::new(
            name,
            true,
            "no, but no swap is on: a memory limit alone holds",
        ),
        (Some(None), true) => Probe::new(
            name,
            false,
            "swap is on and not accounted per group: a container over its memory limit swaps instead of meeting the OOM killer; boot with swapaccount=1, or turn swap off for the workshop: swapoff -a",
        ),
        (None, on) => Probe::new(
            name,
            !on,
            if on {
                "unknown (the memory controller was not tried) and swap is on: turn it off for the workshop (swapoff -a)"
            } else {
                "unknown (the memory controller was not tried); no swap is on"
            },
        ),
    }
}

/// Whether `/proc/swaps` lists a swap device or file.
fn swaps_on() -> bool {
    std::fs::read_to_string("/proc/swaps").is_ok_and(|s| s.lines().count() > 1)
}

/// Runs `work` in a forked child and returns how it went: a namespace or a mount made there
/// ends with the child, so the host never sees it.
fn in_child(work: impl FnOnce() -> nix::Result<()>) -> std::result::Result<(), Errno> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    // SAFETY: the doctor is single-threaded; the child makes syscalls and _exits.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = match work() {
                Ok(()) => 0,
                Err(errno) => errno as i32,
            };
            // SAFETY: _exit ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, code)) => Err(Errno::from_raw(code)),
            _ => Err(Errno::UnknownErrno),
        },
        Err(errno) => Err(errno),
    }
}

fn probe_namespace(name: &str, flag: CloneFlags) -> Probe {
    let name = format!("{name} namespace");
    match in_child(|| unshare(flag)) {
        Ok(()) => Probe::new(&name, true, "made one"),
        Err(errno) => Probe::new(
            &name,
            false,
            format!("unshare failed: {errno}; the kernel needs CONFIG_{}_NS, and a container must allow it (run the workshop on the host)", flag_config(flag)),
        ),
    }
}

/// The kernel option behind a namespace flag.
fn flag_config(flag: CloneFlags) -> &'static str {
    match flag {
        CloneFlags::CLONE_NEWUTS => "UTS",
        CloneFlags::CLONE_NEWIPC => "IPC",
        CloneFlags::CLONE_NEWPID => "PID",
        CloneFlags::CLONE_NEWNET => "NET",
        _ => "NAMESPACES",
    }
}

/// As user nobody, can a user namespace be made? That is what `--rootless` needs.
fn probe_user_namespaces() -> Probe {
    use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
    let name = "user namespaces";
    let tried = in_child(|| {
        setgroups(&[])?;
        setresgid(
            Gid::from_raw(NOBODY),
            Gid::from_raw(NOBODY),
            Gid::from_raw(NOBODY),
        )?;
        setresuid(
            Uid::from_raw(NOBODY),
            Uid::from_raw(NOBODY),
            Uid::from_raw(NOBODY),
        )?;
        unshare(CloneFlags::CLONE_NEWUSER)
    });
    match tried {
        Ok(()) => Probe::new(
            name,
            true,
            format!(
                "a user ({NOBODY}) made one: `checker levelN --rootless` works without root ({})",
                crate::rootless::levels_that_run()
            ),
        ),
        Err(errno) => Probe::new(
            name,
            false,
            format!(
                "--rootless will not work: {} (checks as root are unaffected)",
                crate::sandbox::why_no_user_namespaces(errno)
            ),
        ),
    }
}

/// An overlay mounted in a mount namespace of a child's own, on the filesystem the checker's
/// runs use (`target/rubber-crab/checker/`), with a file of the lower layer seen through it.
fn probe_overlayfs() -> Probe {
    let scratch = crate::prepare::checker_home().join(scratch_name());
    let tried = overlay_in(&scratch);
    let _ = kit::container::remove_dir_on_one_filesystem(&scratch);
    match tried {
        Ok(()) => Probe::new(
            "overlayfs",
            true,
            format!("mounted one under {}", scratch.display()),
        ),
        Err(e) => Probe::new("overlayfs", false, format!("{e:#}")),
    }
}

fn overlay_in(scratch: &Path) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    let dir = |name: &str| scratch.join(name);
    for name in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(dir(name))
            .with_context(|| format!("creating {}", dir(name).display()))?;
    }
    std::fs::write(dir("lower").join("marker"), "lower\n")?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        dir("lower").display(),
        dir("upper").display(),
        dir("work").display()
    );
    let merged = dir("merged");
    let marker = merged.join("marker");
    in_child(|| {
        unshare(CloneFlags::CLONE_NEWNS)?;
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
        mount(Some("overlay"), &merged, Some("overlay"), MsFlags::empty(), Some(options.as_str()))?;
        if marker.exists() {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    })
    .map_err(|errno| {
        let fix = match errno {
            Errno::ENODEV => "the kernel has no overlay filesystem: modprobe overlay".to_string(),
            Errno::EINVAL => format!(
                "{} is on a filesystem an overlay cannot write to (overlayfs, NFS, …): set RUBBER_CRAB_HOME to a directory on ext4, xfs, btrfs or tmpfs",
                scratch.display()
            ),
            _ => "see mount(8), overlayfs".to_string(),
        };
        anyhow::anyhow!("mounting an overlay failed: {errno}: {fix}")
    })
}

/// The lines of `/proc/self/status` that `cat` printed, keyed, after `setup` ran in the child
/// between fork and exec; or why not.
fn status_after(
    setup: fn() -> std::io::Result<()>,
) -> std::result::Result<BTreeMap<String, String>, String> {
    use std::os::unix::process::CommandExt;
    let mut cat = std::process::Command::new("cat");
    cat.arg("/proc/self/status");
    // SAFETY: `setup` only makes raw syscalls (setgroups, setgid, setuid, prctl, capset) between
    // fork and exec, touching nothing of the parent's.
    unsafe {
        cat.pre_exec(setup);
    }
    let out = cat.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect())
}

/// The uid and gid level 11's checks ask for.
const DOCTOR_USER: u32 = crate::levels::l11::UID;

/// A child becomes uid and gid 1234 with no supplementary groups, as level 11's runtimes do.
fn probe_user() -> Probe {
    let setup = || {
        let id = DOCTOR_USER as libc::uid_t;
        // SAFETY: plain syscalls on integers; a null list with size 0 for setgroups.
        let failed = unsafe {
            libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(id) != 0
                || libc::setuid(id) != 0
        };
        match failed {
            true => Err(std::io::Error::last_os_error()),
            false => Ok(()),
        }
    };
    let want = format!("{DOCTOR_USER} {DOCTOR_USER} {DOCTOR_USER} {DOCTOR_USER}");
    match status_after(setup) {
        Ok(s) if s.get("Uid") == Some(&want) && s.get("Gid") == Some(&want) => Probe::new(
            "user",
            true,
            format!("a child became uid and gid {DOCTOR_USER}, without supplementary groups"),
        ),
        Ok(s) => Probe::new(
            "user",
            false,
            format!("a child's ids after setuid: Uid {:?}, Gid {:?}", s.get("Uid"), s.get("Gid")),
        ),
        Err(why) => Probe::new(
            "user",
            false,
            format!("setgroups, setgid, setuid({DOCTOR_USER}) failed: {why}; is this root, with CAP_SETUID and CAP_SETGID?"),
        ),
    }
}

/// A child drops its bounding set to Docker's, sets its other sets with capset, and sets
/// no_new_privs, as level 12's runtimes do.
fn probe_capabilities() -> Probe {
    let setup = || {
        let fail = || Err(std::io::Error::last_os_error());
        for cap in 0..64u64 {
            if DOCKER_CAPS & (1 << cap) != 0 {
                continue;
            }
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                    break;
                }
                return fail();
            }
        }
        let mut header = [CAPABILITY_VERSION_3, 0];
        let data = [DOCKER_CAPS as u32, DOCKER_CAPS as u32, 0, 0, 0, 0];
        // SAFETY: capset reads a version-3 header and two 3-word structs we own.
        if unsafe { libc::syscall(libc::SYS_capset, header.as_mut_ptr(), data.as_ptr()) } != 0 {
            return fail();
        }
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return fail();
        }
        Ok(())
    };
    let want = format!("{DOCKER_CAPS:016x}");
    match status_after(setup) {
        Ok(s) if s.get("CapBnd") == Some(&want)
            && s.get("CapEff") == Some(&want)
            && s.get("NoNewPrivs").map(String::as_str) == Some("1") =>
        {
            Probe::new(
                "capabilities",
                true,
                format!("a child kept Docker's set ({want}) and set no_new_privs"),
            )
        }
        Ok(s) => Probe::new(
            "capabilities",
            false,
            format!(
                "a child's sets after dropping: CapBnd {:?}, CapEff {:?}, NoNewPrivs {:?}",
                s.get("CapBnd"),
                s.get("CapEff"),
                s.get("NoNewPrivs")
            ),
        ),
        Err(why) => Probe::new(
            "capabilities",
            false,
            format!("PR_CAPBSET_DROP, capset or PR_SET_NO_NEW_PRIVS failed: {why}; is this root, with CAP_SETPCAP?"),
        ),
    }
}

/// A veth pair made as the runtimes make theirs, through netlink (kit::netlink), in a network
/// namespace of a child's own: it is gone with the child, and the machine's network never sees it.
fn probe_veth() -> Probe {
    use kit::netlink::{
        Message, Netlink, IFLA_IFNAME, IFLA_INFO_DATA, IFLA_INFO_KIND, IFLA_LINKINFO, NLM_F_CREATE,
        NLM_F_EXCL, RTM_NEWLINK, VETH_INFO_PEER,
    };
    let made = in_child(|| {
        unshare(CloneFlags::CLONE_NEWNET)?;
        let mut netlink = Netlink::open().map_err(|_| Errno::EAFNOSUPPORT)?;
        netlink.ask(
            Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
                .link(0, 0)
                .string(IFLA_IFNAME, "rcdoctor0")
                .nested(IFLA_LINKINFO, |info| {
                    info.string(IFLA_INFO_KIND, "veth")
                        .nested(IFLA_INFO_DATA, |data| {
                            data.nested(VETH_INFO_PEER, |peer| {
                                peer.link(0, 0).string(IFLA_IFNAME, "rcdoctor1")
                            })
                        })
                }),
        )
    });
    match made {
        Ok(()) => Probe::new(
            "veth",
            true,
            "made a pair through netlink in a scratch network namespace",
        ),
        Err(errno @ (Errno::EOPNOTSUPP | Errno::ENOENT)) => Probe::new(
            "veth",
            false,
            format!("RTM_NEWLINK of kind veth failed: {errno}: this kernel has no veth driver loaded: try modprobe veth (CONFIG_VETH)"),
        ),
        Err(errno) => Probe::new(
            "veth",
            false,
            format!("making a veth pair in a scratch network namespace failed: {errno}"),
        ),
    }
}

/// Scratch groups of doctors that died before removing them (`doctor-<pid>`, that pid gone).
fn remove_stale_scratch_groups(layout: &Layout) {
    for hierarchy in &layout.hierarchies {
        let parent = hierarchy.mount_point.join(cgroups::cage_path(""));
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("doctor-")
                .and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = cgroups::remove_group(&entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests;
