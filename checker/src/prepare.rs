//! Everything a check run needs before the first check: the runtime built, the probe built
//! statically, the test image built (cached) and scratch space.

use crate::check::Env;
use crate::exit::BuildFailed;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(kit::paths::workspace_root());
    cmd
}

/// Builds `package` (a level or solution crate) and returns its executable. Cargo's diagnostics go
/// to stderr as cargo shows them.
pub fn build_runtime(package: &str) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--quiet",
        "--package",
        package,
        "--message-format=json-render-diagnostics",
    ]);
    let exe = build(cmd, package)?;
    Ok(exe)
}

/// Builds every package of `packages` in one cargo run (each run of cargo costs 100-150 ms even
/// with nothing to build: `checker all` built eleven, one after the other) and returns their
/// executables. Cargo's diagnostics are dropped: None when any of them did not build, and then
/// each is built on its own, in turn, as before (its errors shown when its turn comes).
pub fn build_runtimes(packages: &[String]) -> Option<Vec<(String, PathBuf)>> {
    let mut cmd = cargo();
    cmd.args(["build", "--quiet", "--message-format=json"]);
    for package in packages {
        cmd.args(["--package", package]);
    }
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let messages: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    packages
        .iter()
        .map(|package| {
            let exe = messages
                .iter()
                .rev()
                .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == *package)
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))?;
            Some((package.clone(), exe))
        })
        .collect()
}

fn build(mut cmd: Command, package: &str) -> Result<PathBuf> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo")?;
    if !out.status.success() {
        return Err(BuildFailed(format!(
            "`{package}` did not build: fix the errors above{}, then run the checker again",
            source_of(package)
                .map(|file| format!(" in {file}"))
                .unwrap_or_default()
        ))
        .into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == package)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo built {package} but named no executable"))
}

/// The file an attendee edits for a level package: `levels/03-pivot-root/src/main.rs`.
fn source_of(package: &str) -> Option<String> {
    kit::ladder::LADDER
        .iter()
        .find(|level| level.skeleton_package() == package)
        .map(|level| format!("levels/{}/src/main.rs", level.dir))
}

fn host_triple() -> Result<String> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(String::from))
        .context("rustc -vV named no host triple")
}

/// Builds the probe as a static binary: it must run in any image, with no libraries there.
pub fn build_probe() -> Result<PathBuf> {
    let target_dir = kit::paths::workspace_root().join("target/probe-static");
    if !kit::paths::can_write(&target_dir) {
        // A checkout someone else (root) built, checked --rootless: cargo could not even take
        // its build lock here, so use the probe they built.
        return already_built_probe(&target_dir);
    }
    let triple = host_triple()?;
    let var = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        triple.to_uppercase().replace('-', "_")
    );
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--quiet",
        "--release",
        "--package",
        "probe",
        "--bin",
        "probe",
        "--message-format=json-render-diagnostics",
    ])
    .args(["--target", &triple])
    .arg("--target-dir")
    .arg(&target_dir)
    .env(var, "-C target-feature=+crt-static");
    build(cmd, "probe")
}

/// `<target_dir>/<triple>/release/probe`, built by the owner of the checkout.
fn already_built_probe(target_dir: &Path) -> Result<PathBuf> {
    std::fs::read_dir(target_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|triple| triple.path().join("release/probe"))
        .find(|probe| probe.is_file())
        .with_context(|| {
            format!(
                "the probe is not built yet, and {} is not yours to write (cargo builds it there). \
                 Have the checkout's owner (or root) build it once:\n  sudo {} level0 --solution\nthen run this again",
                target_dir.display(),
                crate::options::shown_exe()
            )
        })
}

/// Where the checker keeps its cache and scratch space.
pub fn checker_home() -> PathBuf {
    kit::paths::home().join("checker")
}

/// A directory only the test image has: containers may write there without ever touching the
/// host's files, even when a broken runtime forgot to chroot.
pub const SCRATCH: &str = "/.rubber-crab-scratch";

/// The test image: busybox (or the host's tools), the probe, and a marker with a nonce. Rebuilt
/// only when the probe changed.
#[derive(Clone)]
pub struct TestImage {
    pub dir: PathBuf,
    pub name: String,
    pub marker: String,
    pub entries: Vec<String>,
    pub probe: PathBuf,
}

pub fn test_image(built_probe: &Path) -> Result<TestImage> {
    let home = checker_home();
    let probe = home.join("bin/probe");
    let dir = home.join("images");
    let tar = kit::image::tar_path(&dir, "busybox");
    let stamp_path = dir.join("busybox.stamp");
    std::fs::create_dir_all(&dir)?;
    // Several checkers may start at once (the test suite does): one builds, the others wait and
    // reuse its image, so no checker sees the marker change under it.
    let lock = std::fs::File::create(dir.join(".lock"))?;
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .context("locking the image cache")?;
    let probe_bytes =
        std::fs::read(built_probe).with_context(|| format!("reading {}", built_probe.display()))?;
    let fingerprint = image_fingerprint(&probe_bytes, &probe);
    let stamp = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    let (cached, marker) = match stamp.split_once('\n') {
        Some((fp, marker)) if fp == fingerprint && tar.is_file() && probe.is_file() => {
            (true, marker.to_string())
        }
        _ => (
            false,
            format!("rubber-crab test image {}\n", crate::run::nonce()),
        ),
    };
    if !cached {
        std::fs::create_dir_all(probe.parent().context("probe dir")?)?;
        let tmp = probe.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &probe_bytes)?;
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        std::fs::rename(&tmp, &probe)?;
        let spec = kit::builder::ImageSpec {
            extra_files: vec![(probe.clone(), probe.clone())],
            extra_dirs: vec![PathBuf::from(SCRATCH)],
            marker: marker.clone(),
            only_image_tools: true,
        };
        kit::builder::build_image(&tar, &spec)?;
        std::fs::write(&stamp_path, format!("{fingerprint}\n{marker}"))?;
    }
    Ok(TestImage {
        entries: top_level_entries(&tar)?,
        dir,
        name: "busybox".into(),
        marker,
        probe,
    })
}

/// What the cached image depends on: the probe, and where it is: the image holds it at its host
/// path, which changes when the checkout moves (or its `target/` is copied to another checkout).
fn image_fingerprint(probe_bytes: &[u8], probe: &Path) -> String {
    format!(
        "v4 {} {:x} {}",
        probe_bytes.len(),
        fnv(probe_bytes),
        probe.display()
    )
}

/// FNV-1a: a fingerprint, not security.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

fn top_level_entries(tar: &Path) -> Result<Vec<String>> {
    let mut archive = tar::Archive::new(std::fs::File::open(tar)?);
    let mut names = std::collections::BTreeSet::new();
    for entry in archive.entries()? {
        let path = entry?.path()?.into_owned();
        if let Some(std::path::Component::Normal(first)) = path
            .components()
            .find(|c| matches!(c, std::path::Component::Normal(_)))
        {
            names.insert(first.to_string_lossy().into_owned());
        }
    }
    Ok(names.into_iter().collect())
}

/// Builds the environment for checking `runtime`.
pub fn environment(
    runtime: PathBuf,
    image: TestImage,
    timeout: Duration,
    rootless: bool,
    runtime_level: u32,
) -> Result<Env> {
    let mut swept = remove_stale_work_dirs();
    if nix::unistd::geteuid().is_root() {
        swept.extend(crate::cgroups::remove_stale_cages(
            crate::cgroups::host_layout(),
        ));
    }
    if !swept.is_empty() {
        eprintln!(
            "checker: removed what a checker killed before it could clean up left behind: {}",
            swept.join(", ")
        );
    }
    let work = make_work_dir()?;
    static SIGNALS: std::sync::Once = std::sync::Once::new();
    SIGNALS.call_once(crate::interrupt::handle_signals);
    let dir = work.clone();
    // For the checker's whole life: the run dir goes when it ends (or is interrupted).
    crate::interrupt::register_for_life(move || {
        dir.exists().then(|| {
            let _ = kit::container::remove_dir_on_one_filesystem(&dir);
            format!("run dir {}", dir.display())
        })
    });
    let host_marker = work.join("host-marker");
    let host_marker_content = format!("host only {}\n", crate::run::nonce());
    std::fs::write(&host_marker, &host_marker_content)?;
    if !runtime.is_file() {
        bail!("{} is not a file", runtime.display());
    }
    Ok(Env {
        runtime,
        probe: image.probe,
        image_dir: image.dir,
        image: image.name,
        image_marker: image.marker,
        image_entries: image.entries,
        host_marker,
        host_marker_content,
        work,
        timeout,
        output_cap: 256 * 1024,
        rootless,
        runtime_level,
    })
}

/// The lock a run dir's owner holds for as long as it lives (see ownership.rs).
const OWNER_LOCK: &str = "owner.lock";

/// The locks of this checker's run dirs, held until it exits: one per runtime checked
/// (`checker all --solution` makes a run dir for each level's solution in turn). A lock
/// dropped early would leave a live run dir for another checker to sweep as dead.
static WORK_LOCKS: std::sync::Mutex<Vec<crate::ownership::Held>> =
    std::sync::Mutex::new(Vec::new());

/// This checker's scratch dir, `run-<pid>`, created with its lock held inside: made under a
/// temporary name with the lock taken, then renamed. When `run-<pid>` is another live
/// checker's (the same pid in another PID namespace), `run-<pid>-<nonce>`.
fn make_work_dir() -> Result<PathBuf> {
    let home = checker_home();
    std::fs::create_dir_all(&home)?;
    let mut work = home.join(format!("run-{}", std::process::id()));
    if work.exists() {
        match crate::ownership::take_if_dead(&work.join(OWNER_LOCK)) {
            Some(_dead) => {
                let _ = kit::container::remove_dir_on_one_filesystem(&work);
            }
            None => {
                work = home.join(format!(
                    "run-{}-{}",
                    std::process::id(),
                    crate::run::nonce()
                ))
            }
        }
    }
    let tmp = home.join(format!(".run-{}.tmp", crate::run::nonce()));
    std::fs::create_dir_all(&tmp)?;
    let held = crate::ownership::create_locked(&tmp.join(OWNER_LOCK))?;
    std::fs::rename(&tmp, &work).with_context(|| format!("creating {}", work.display()))?;
    WORK_LOCKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(held);
    Ok(work)
}

/// Removes the scratch dirs (`run-*`) of checkers that were killed before cleaning up: those
/// whose owner's lock can be taken. A dir without a lock, or whose lock is held (a live
/// checker's, in any PID namespace), is left alone. Returns the dirs removed.
fn remove_stale_work_dirs() -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(checker_home()) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("run-") {
            continue;
        }
        if let Some(_dead) = crate::ownership::take_if_dead(&entry.path().join(OWNER_LOCK)) {
            if kit::container::remove_dir_on_one_filesystem(&entry.path()).is_ok() {
                removed.push(entry.path().display().to_string());
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_failure_names_the_file_to_edit() {
        assert_eq!(
            source_of("level3").as_deref(),
            Some("levels/03-pivot-root/src/main.rs")
        );
        assert_eq!(source_of("solution3"), None, "not the attendee's to edit");
    }

    #[test]
    fn the_image_is_rebuilt_for_a_new_probe_or_a_moved_checkout() {
        let here = image_fingerprint(b"probe", Path::new("/a/target/bin/probe"));
        assert_eq!(
            here,
            image_fingerprint(b"probe", Path::new("/a/target/bin/probe"))
        );
        assert_ne!(
            here,
            image_fingerprint(b"probf", Path::new("/a/target/bin/probe"))
        );
        assert_ne!(
            here,
            image_fingerprint(b"probe", Path::new("/b/target/bin/probe"))
        );
    }

    #[test]
    fn a_probe_someone_else_built_is_found_under_any_triple() {
        let dir = tempfile::tempdir().unwrap();
        let err = already_built_probe(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("level0 --solution"),
            "says how to build it: {err}"
        );
        let probe = dir.path().join("x86_64-unknown-linux-gnu/release/probe");
        std::fs::create_dir_all(probe.parent().unwrap()).unwrap();
        std::fs::write(&probe, b"").unwrap();
        assert_eq!(already_built_probe(dir.path()).unwrap(), probe);
    }
}
