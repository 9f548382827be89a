//! The start-latency table: how long `run -- /bin/true` takes, for every solution level of the
//! ladder, for `runc run` on a bundle of the same image with the same limits, and for the floor,
//! `unshare … chroot ROOTFS /bin/true` (the namespaces alone, nothing else). Runs are interleaved
//! (each round starts every contender once, in a rotated order) so that a busy moment of the
//! machine falls on all of them alike; the table gives medians and ratios to runc's.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The limits every contender gets: what issue 11 asks solution 10 to start with. Levels below
/// the one that honours a flag accept it and ignore it (the contract).
const LIMITS: &[&str] = &["--memory", "64m", "--pids-limit", "64", "--cpus", "1"];
/// Where the solutions put their groups: away from `rubber-crab/`, which checkers watch.
const CGROUP_PARENT: &str = "rubber-crab-bench";
/// Unmeasured starts of each contender first: the first start of solution 7 and up extracts
/// the image, and caches warm up.
const WARMUP: usize = 2;

/// One thing whose start is timed.
struct Contender {
    name: String,
    /// The command of the `n`th start (runc needs a fresh container id each time).
    command: Box<dyn Fn(usize) -> Command>,
    times: Vec<Duration>,
}

/// Prints the table for `levels`' release builds in `root/target/release`, with the image
/// `tar` (copied to `scratch/small.tar` by the caller), in `rounds` interleaved rounds.
pub fn table(root: &Path, scratch: &Path, levels: &[u32], rounds: usize) -> Result<()> {
    let rootfs = extract(&scratch.join("small.tar"), &scratch.join("rootfs"))?;
    let mut contenders: Vec<Contender> =
        levels.iter().map(|&n| solution(root, scratch, n)).collect();
    match runc_bundle(scratch, &rootfs) {
        Ok(bundle) => contenders.push(runc(bundle)),
        Err(why) => println!("runc: skipped ({why:#})\n"),
    }
    contenders.push(floor(rootfs));
    for contender in &mut contenders {
        for n in 0..WARMUP {
            start(contender, n)?;
        }
    }
    for round in 0..rounds {
        // Rotated, so no contender always runs right after the same other one.
        let count = contenders.len();
        for i in 0..count {
            let contender = &mut contenders[(i + round) % count];
            let took = start(contender, WARMUP + round)?;
            contender.times.push(took);
        }
    }
    print(&contenders, rounds);
    remove_cgroup_parents();
    Ok(())
}

/// `rubber-crab-bench/` in every cgroup hierarchy, once every container is gone (each runtime
/// removes only its container's group, as the contract says).
fn remove_cgroup_parents() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let fstype = fields
            .iter()
            .position(|f| *f == "-")
            .and_then(|dash| fields.get(dash + 1));
        if let (Some(mount_point), Some(&("cgroup" | "cgroup2"))) = (fields.get(4), fstype) {
            let _ = std::fs::remove_dir(Path::new(mount_point).join(CGROUP_PARENT));
        }
    }
}

/// `solutionN run … -- /bin/true`, with the limits.
fn solution(root: &Path, scratch: &Path, level: u32) -> Contender {
    let exe = solution_exe(root, level);
    let options = run_options(scratch);
    Contender {
        name: format!("solution{level}"),
        command: Box::new(move |_| {
            // From level 13 a runtime plugs a veth pair into its host: that host is a network
            // namespace of the run's own (`unshare --net`, its exec in the time), never the
            // machine's.
            let mut command = match level >= 13 {
                true => {
                    let mut unshare = Command::new("unshare");
                    unshare.args(["--net", "--"]).arg(&exe);
                    unshare
                }
                false => Command::new(&exe),
            };
            command.args(&options).args(["--", "/bin/true"]);
            command
        }),
        times: Vec::new(),
    }
}

fn solution_exe(root: &Path, level: u32) -> PathBuf {
    root.join(format!("target/release/solution{level}"))
}

/// `run` and its options, up to the command.
fn run_options(scratch: &Path) -> Vec<OsString> {
    let mut options: Vec<OsString> = ["run", "--image", "small", "--image-dir"]
        .iter()
        .map(OsString::from)
        .collect();
    options.push(scratch.into());
    options.push("--container-dir".into());
    options.push(scratch.join("containers").into());
    options.extend(["--cgroup-parent", CGROUP_PARENT].map(OsString::from));
    options.extend(LIMITS.iter().map(OsString::from));
    options
}

/// `runc run --bundle B bench-<pid>-<n>`: a fresh id for each start (runc deletes the
/// container when it exits).
fn runc(bundle: PathBuf) -> Contender {
    let prefix = format!("rubber-crab-bench-{}", std::process::id());
    Contender {
        name: "runc".into(),
        command: Box::new(move |n| {
            let mut command = Command::new("runc");
            command
                .arg("run")
                .arg("--bundle")
                .arg(&bundle)
                .arg(format!("{prefix}-{n}"));
            command
        }),
        times: Vec::new(),
    }
}

/// The floor: the namespaces of level 6, a chroot, and nothing else.
fn floor(rootfs: PathBuf) -> Contender {
    Contender {
        name: "unshare floor".into(),
        command: Box::new(move |_| {
            let mut command = Command::new("unshare");
            command
                .args([
                    "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "chroot",
                ])
                .arg(&rootfs)
                .arg("/bin/true");
            command
        }),
        times: Vec::new(),
    }
}

/// Times one start and exit; a failed start ends the bench, with its stderr.
fn start(contender: &Contender, n: usize) -> Result<Duration> {
    let mut command = (contender.command)(n);
    command.stdin(Stdio::null()).stdout(Stdio::null());
    command.stderr(Stdio::piped());
    let began = Instant::now();
    let out = command
        .output()
        .with_context(|| format!("starting {}", contender.name))?;
    let took = began.elapsed();
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            contender.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// The image's rootfs, for runc and the floor (both read it only).
fn extract(tar: &Path, rootfs: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(rootfs)?;
    let status = Command::new("tar")
        .arg("-xf")
        .arg(tar)
        .arg("-C")
        .arg(rootfs)
        .arg("--numeric-owner")
        .status()?;
    if !status.success() {
        bail!("tar could not extract {}", tar.display());
    }
    Ok(rootfs.to_path_buf())
}

/// A runc bundle for `rootfs`: `runc spec`, then the command, no terminal, and the limits the
/// solutions get (memory 64 MiB without swap, 64 processes, one CPU), as an engine writes them.
fn runc_bundle(scratch: &Path, rootfs: &Path) -> Result<PathBuf> {
    let bundle = scratch.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    let spec = Command::new("runc")
        .arg("spec")
        .current_dir(&bundle)
        .stderr(Stdio::null())
        .status();
    match spec {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("runc is not installed: apt-get install runc")
        }
        Err(e) => return Err(e).context("runc spec"),
        Ok(status) if !status.success() => bail!("runc spec failed: {status}"),
        Ok(_) => {}
    }
    let file = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
    config["process"]["args"] = serde_json::json!(["/bin/true"]);
    config["process"]["terminal"] = false.into();
    config["root"] = serde_json::json!({ "path": rootfs, "readonly": true });
    // Absolute: at each hierarchy's root, beside the solutions' groups (a relative path would
    // go below the bench's own group).
    config["linux"]["cgroupsPath"] = format!("/{CGROUP_PARENT}/runc").into();
    config["linux"]["resources"]["memory"] =
        serde_json::json!({ "limit": 64 << 20, "swap": 64 << 20 });
    config["linux"]["resources"]["pids"] = serde_json::json!({ "limit": 64 });
    config["linux"]["resources"]["cpu"] = serde_json::json!({ "quota": 100000, "period": 100000 });
    std::fs::write(&file, serde_json::to_string_pretty(&config)?)?;
    Ok(bundle)
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print(contenders: &[Contender], rounds: usize) {
    let runc = contenders
        .iter()
        .find(|c| c.name == "runc")
        .map(|c| median(&c.times));
    println!(
        "start latency (`run -- /bin/true` with {}), release build, {rounds} interleaved rounds:\n",
        LIMITS.join(" ")
    );
    println!(
        "{:<14} {:>10} {:>10} {:>10} {:>8}",
        "", "median", "fastest", "slowest", "× runc"
    );
    for c in contenders {
        let median = median(&c.times);
        let ratio = runc.map_or("—".to_string(), |r| {
            format!("{:.2}", median.as_secs_f64() / r.as_secs_f64())
        });
        println!(
            "{:<14} {:>7.1} ms {:>7.1} ms {:>7.1} ms {:>8}",
            c.name,
            ms(median),
            ms(c.times.iter().min().copied().unwrap_or_default()),
            ms(c.times.iter().max().copied().unwrap_or_default()),
            ratio
        );
    }
}

/// Where one start's time goes: `solutionN run --explain`, each narrated step stamped with the
/// milliseconds since the start, as it arrives on stderr.
pub fn timeline(root: &Path, scratch: &Path, level: u32) -> Result<()> {
    use std::io::BufRead;
    let contender = solution(root, scratch, level);
    for n in 0..WARMUP {
        start(&contender, n)?;
    }
    let mut explained = Command::new(solution_exe(root, level));
    explained
        .args(run_options(scratch))
        .args(["--explain", "--", "/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1");
    let began = Instant::now();
    let mut child = explained.spawn()?;
    let stderr = child.stderr.take().context("the runtime's stderr")?;
    let mut last = Duration::ZERO;
    for line in std::io::BufReader::new(stderr).lines() {
        let at = began.elapsed();
        println!("{:>7.2} ms (+{:>5.2})  {}", ms(at), ms(at - last), line?);
        last = at;
    }
    let status = child.wait()?;
    println!("{:>7.2} ms  exit: {status}", ms(began.elapsed()));
    Ok(())
}
