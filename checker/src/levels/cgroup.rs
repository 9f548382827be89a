//! What the checks of levels 8-10 share: finding the container's group where the kernel says it
//! is (the probe's `/proc/<pid>/cgroup`), reading its files, and the groups a runtime leaves
//! behind. Pure helpers, tested without root against text and temp dirs.

use crate::check::{fail, Ctx, Verdict};
use crate::hold::{self, Quiet};
use crate::run::Run;
use anyhow::Result;
use probe::Subcommand;
use serde::de::DeserializeOwned;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// cgroups(7): the files of v1 and v2, and `/proc/<pid>/cgroup`.
pub const CGROUPS: &str = "https://man7.org/linux/man-pages/man7/cgroups.7.html";
/// The v2 interface files (cpu.max, cpu.weight, memory.max, pids.max, memory.events).
pub const CGROUP_V2: &str = "https://docs.kernel.org/admin-guide/cgroup-v2.html";
pub const MEMORY_V1: &str = "https://docs.kernel.org/admin-guide/cgroup-v1/memory.html";
pub const PIDS_V1: &str = "https://docs.kernel.org/admin-guide/cgroup-v1/pids.html";

/// The group of a process for one controller, as `/proc/<pid>/cgroup` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The path relative to the hierarchy's root, e.g. `/rubber-crab/3f2a91c07b1e`.
    pub path: String,
    /// Found on the `0::` line of the v2 tree (else on a v1 hierarchy's line).
    pub unified: bool,
}

/// The line of `/proc/<pid>/cgroup` for `controller` (`hierarchy-id:controllers:path`): the v1
/// hierarchy that lists it, else the v2 tree's `0::` line.
pub fn membership(lines: &[String], controller: &str) -> Option<Membership> {
    let parsed: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|line| {
            let (_, rest) = line.split_once(':')?;
            rest.split_once(':')
        })
        .collect();
    let v1 = parsed
        .iter()
        .find(|(controllers, _)| controllers.split(',').any(|c| c == controller));
    match v1 {
        Some((_, path)) => Some(Membership {
            path: path.to_string(),
            unified: false,
        }),
        None => parsed
            .iter()
            .find(|(controllers, _)| controllers.is_empty())
            .map(|(_, path)| Membership {
                path: path.to_string(),
                unified: true,
            }),
    }
}

/// The name of the group `path` when it is directly below `parent` (`/P/NAME`), else None.
pub fn child_of<'a>(path: &'a str, parent: &str) -> Option<&'a str> {
    let rest = path
        .trim_start_matches('/')
        .strip_prefix(parent.trim_matches('/'))?
        .strip_prefix('/')?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// The container's group for one controller, found on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub controller: &'static str,
    /// Relative to the hierarchy's root, as `/proc/<pid>/cgroup` gives it.
    pub path: String,
    pub dir: PathBuf,
    pub unified: bool,
}

impl Group {
    /// A file of the group, trimmed; None when it cannot be read.
    pub fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(file))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// `file` as the verdicts name it: `<path>/<file>`, as in the hierarchy.
    pub fn file(&self, file: &str) -> String {
        format!("{}/{file}", self.path.trim_end_matches('/'))
    }
}

/// The group holding host pid `pid` for `controller`, which must be directly below `parent`;
/// a failure says what was found instead.
pub fn group_of(pid: u32, controller: &'static str, parent: &str) -> Result<Group, Verdict> {
    let lines: Vec<String> = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    let expected = format!("the command in a group of its own for {controller}, directly below the --cgroup-parent: /{parent}/<container-id>");
    let Some(found) = membership(&lines, controller) else {
        return Err(fail(
            expected,
            format!("/proc/{pid}/cgroup has no line for {controller}: {lines:?}"),
        ));
    };
    if child_of(&found.path, parent).is_none() {
        return Err(fail(expected, not_below(&found.path, parent, controller)));
    }
    let layout = crate::cgroups::host_layout();
    let Some(dir) = layout.group_dir(controller, &found.path) else {
        return Err(fail(
            expected,
            format!("the host has no hierarchy holding {controller}"),
        ));
    };
    Ok(Group {
        controller,
        path: found.path,
        dir,
        unified: found.unified,
    })
}

/// Runs the probe's `subcommand` holding, with `flags`, finds its group for `controller` on
/// the host and lets `look` read it while the probe is alive. The probe's reply and what `look`
/// returned, or the failure that explains why there is none.
pub fn held_group<R: DeserializeOwned + Clone, T>(
    ctx: &mut Ctx,
    flags: &[&str],
    (subcommand, args): (Subcommand<R>, &[&str]),
    controller: &'static str,
    look: impl FnOnce(&Group, u32) -> T,
) -> Result<std::result::Result<(R, T), Verdict>> {
    ctx.flags = flags.iter().map(|f| f.to_string()).collect();
    let (run, seen) = ctx.hold(subcommand, args, |held| {
        let pid = held.probe_pid.ok_or_else(|| {
            fail(
                "the probe's process can be found on the host",
                "it could not",
            )
        })?;
        // Where the runtime puts it in the end: how soon is `L8.cpu-cgroup.inside`'s to judge.
        settled_group(pid, held.runtime_pid, held.cgroup_parent, controller);
        let group = group_of(pid, controller, held.cgroup_parent)?;
        Ok(look(&group, pid))
    })?;
    let reply = match crate::check::report(&run) {
        Ok(reply) => reply.clone(),
        Err(verdict) => return Ok(Err(verdict)),
    };
    Ok(match seen {
        Some(Ok(seen)) => Ok((reply, seen)),
        Some(Err(verdict)) => Err(verdict),
        None => Err(fail(
            "the probe holds while the checker looks",
            "it never did",
        )),
    })
}

/// The probe's group for `controller` once the runtime is done placing it: as soon as it is
/// below `parent`, else once the runtime sleeps without running for `hold::SETTLE` (in
/// waitpid, its setup done), so that an attach that comes late is seen, whatever the
/// machine's speed.
pub fn settled_group(
    probe: u32,
    runtime: u32,
    parent: &str,
    controller: &str,
) -> Option<Membership> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut quiet = Quiet::default();
    loop {
        let lines = std::fs::read_to_string(format!("/proc/{probe}/cgroup")).ok()?;
        let found = membership(
            &lines.lines().map(String::from).collect::<Vec<_>>(),
            controller,
        );
        let placed = found
            .as_ref()
            .is_some_and(|m| child_of(&m.path, parent).is_some());
        let now = Instant::now();
        if placed || quiet.settled(hold::sample(runtime as i32), now) || now > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The verdict on what a run left below its `--cgroup-parent` when it exited (the cage
/// removes it afterwards).
pub fn cleanup_verdict<R>(run: &Run<R>) -> Verdict {
    if run.left_groups.is_empty() {
        return Verdict::Pass;
    }
    fail(
        "no group left below the --cgroup-parent once the runtime has exited",
        run.left_groups.join("; "),
    )
}

/// What a path that is not `<parent>/<id>` says about the runtime.
pub fn not_below(path: &str, parent: &str, controller: &str) -> String {
    let parent = parent.trim_matches('/');
    if path.trim_start_matches('/').starts_with(parent) {
        format!("its {controller} group is {path}, not one level below the parent")
    } else {
        format!("its {controller} group is {path}: the runtime did not create its group below the parent, or did not move the child into it")
    }
}

/// `quota/period` from v1's `cpu.cfs_quota_us` and `cpu.cfs_period_us`; None without a quota (-1).
pub fn v1_cpu_ratio(quota: &str, period: &str) -> Option<f64> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: i64 = period.trim().parse().ok()?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// `quota/period` from v2's `cpu.max` (`QUOTA PERIOD`); None for `max` (no quota).
pub fn v2_cpu_ratio(cpu_max: &str) -> Option<f64> {
    let (quota, period) = cpu_max.trim().split_once(' ')?;
    v1_cpu_ratio(quota, period)
}

/// The v2 `cpu.weight` for Docker's `--cpu-shares` as runc up to 1.3.1 (and crun before 1.23)
/// convert it: 2..262144 onto 1..10000 linearly (512 gives 20, 1024 gives 39).
pub fn shares_to_weight_linear(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// The same as runc 1.3.2 and later and crun 1.23 convert it (opencontainers/cgroups,
/// `ConvertCPUSharesToCgroupV2Value`): a quadratic in log space through the minimum, the maximum
/// and the defaults (1024, cpu.shares' default, gives 100, cpu.weight's).
pub fn shares_to_weight_curve(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262144.. => 10000,
        _ => {
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// The v2 judgement of `--cpu-shares`: the weight for 512 shares (half the default 1024) is a
/// weight between 1 and the default 100, and the weight for 2048 is above it (and at most
/// 10000). Both conversions in use pass; a weight left at its default, or written as shares,
/// does not. Err says what is wrong.
pub fn weight_judged(w512: Option<u64>, w2048: Option<u64>) -> std::result::Result<(), String> {
    let (Some(low), Some(high)) = (w512, w2048) else {
        return Err("cpu.weight is not a number".into());
    };
    if low == 100 && high == 100 {
        return Err("the default weight both times: --cpu-shares was ignored".into());
    }
    if !(1..100).contains(&low) {
        return Err(format!(
            "512 shares is half the default 1024, so its weight is below the default 100, not {low} (shares are not weights: convert them)"
        ));
    }
    if high <= low || high > 10000 {
        return Err(format!(
            "more shares must give more weight (1..10000): {high} for 2048 is not above {low} for 512"
        ));
    }
    Ok(())
}

pub use crate::cgroups::keyed;

/// What the group's `cpu.stat` counted while the probe burned under `--cpus 0.25`, and what the
/// probe measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttling {
    pub nr_periods: u64,
    pub nr_throttled: u64,
    /// The group's quota per period (v1 cpu.cfs_quota_us, v2 cpu.max's first number), and the
    /// period (v1 cpu.cfs_period_us, v2 cpu.max's second number).
    pub quota_us: u64,
    pub period_us: u64,
    /// The CPU time the probe used while it spun, and how long it spun.
    pub cpu_ms: u64,
    pub wall_ms: u64,
}

impl Throttling {
    fn ratio(&self) -> f64 {
        self.cpu_ms as f64 / self.wall_ms.max(1) as f64
    }
}

/// The verdict on `--cpus 0.25`. Never depends on the machine's speed: a CPU taken by others
/// only lowers the ratio, and a quota never reached is a skip. But a group never throttled gets
/// at most its quota in each period it counts (and a scheduler tick more): CPU time beyond that
/// was spent outside the group (the command was moved in late), whatever the load.
pub fn throttled_verdict(t: Throttling) -> Verdict {
    let measured = format!(
        "CPU time / wall time {:.2} over {} ms; cpu.stat: nr_periods {}, nr_throttled {}",
        t.ratio(),
        t.wall_ms,
        t.nr_periods,
        t.nr_throttled
    );
    let expected = "CPU time / wall time about 0.25, the group throttled by its quota";
    let allowed_ms = (t.nr_periods + 1) * (t.quota_us / 1000 + TICK_MS);
    let quota = t.quota_us as f64 / t.period_us.max(1) as f64;
    if (quota - 0.25).abs() > QUOTA_ROUNDING {
        let got = t.ratio();
        fail(
            "a quota of 0.25 × the period (25000 per 100000 µs), CPU time / wall time about 0.25",
            format!("{measured}: the group's quota is {} µs per {} µs period, {quota:.3} CPU, not 0.25, and the probe got {got:.2} (both numbers are µs: --cpus 0.25 × 100000)", t.quota_us, t.period_us),
        )
    } else if t.nr_periods == 0 {
        fail(
            expected,
            format!("{measured}: no quota period ever ran, so no quota is enforced on the group"),
        )
    } else if t.ratio() > THROTTLED_MAX {
        fail(
            expected,
            format!("{measured}: the probe got more CPU than a quota of 0.25 allows"),
        )
    } else if t.nr_throttled > 0 {
        Verdict::Pass
    } else if t.cpu_ms > allowed_ms {
        fail(
            expected,
            format!("{measured}: the probe used {} ms of CPU, and the quota allows at most {allowed_ms} ms in the periods it counted, so it spun outside the group (moved in late?)", t.cpu_ms),
        )
    } else {
        Verdict::Skip(format!(
            "the quota was never reached ({measured}): the machine is too busy to tell; run it again on a quieter machine"
        ))
    }
}

/// How far a written quota may be from `--cpus` × the period: rounding to whole µs, and no more.
const QUOTA_ROUNDING: f64 = 0.001;

/// How far past its quota a group may run before the scheduler notices (a tick, at HZ=250).
const TICK_MS: u64 = 5;

/// Above this, the quota is not 0.25: a 1 s burn under a 100 ms period gets at most one period's
/// quota more than its share.
const THROTTLED_MAX: f64 = 0.4;

/// The kernel log from the moment it was opened: `/dev/kmsg`, read from its end.
pub struct KernelLog(std::fs::File);

impl KernelLog {
    /// Opens the log at its end (what is logged from now on). Err when it cannot be read here.
    pub fn from_now() -> std::io::Result<KernelLog> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        file.seek(SeekFrom::End(0))?;
        Ok(KernelLog(file))
    }

    /// The messages logged since it was opened (or last read).
    pub fn messages(&mut self) -> Vec<String> {
        let mut messages = Vec::new();
        let mut record = vec![0u8; 8192];
        loop {
            match self.0.read(&mut record) {
                Ok(0) => break,
                Ok(n) => messages.push(kmsg_message(&record[..n])),
                // Records overwritten before they were read: go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        messages
    }
}

/// The text of a `/dev/kmsg` record: `prio,seq,time,flags;text\n KEY=value...`.
fn kmsg_message(record: &[u8]) -> String {
    let record = String::from_utf8_lossy(record);
    let text = record.split_once(';').map_or(&*record, |(_, text)| text);
    text.lines().next().unwrap_or_default().to_string()
}

/// What the kernel log says about an OOM kill of host pid `pid`: whether a memory cgroup's OOM
/// killer killed it, and the group it was charged to when the log names it (that summary line
/// is rate-limited, the kill line is not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OomKill {
    pub memcg_kill: bool,
    pub oom_memcg: Option<String>,
}

pub fn oom_kill_of(messages: &[String], pid: u32) -> OomKill {
    let killed = format!("Memory cgroup out of memory: Killed process {pid} ");
    let task = format!(",pid={pid},");
    OomKill {
        memcg_kill: messages.iter().any(|m| m.contains(&killed)),
        oom_memcg: messages
            .iter()
            .filter(|m| m.starts_with("oom-kill:") && m.contains(&task))
            .find_map(|m| {
                let value = m.split(",oom_memcg=").nth(1)?;
                Some(value.split(',').next()?.to_string())
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    const HYBRID: &str = "\
9:name=systemd:/
8:pids:/rc/abc
4:memory:/rc/abc
2:cpu,cpuacct:/rc/abc
0::/";

    #[test]
    fn a_v1_controller_is_on_its_hierarchy_s_line_else_on_the_v2_line() {
        let cgroup = lines(HYBRID);
        assert_eq!(
            membership(&cgroup, "cpu"),
            Some(Membership {
                path: "/rc/abc".into(),
                unified: false
            })
        );
        assert_eq!(
            membership(&cgroup, "rdma"),
            Some(Membership {
                path: "/".into(),
                unified: true
            })
        );
        let v2 = lines("0::/rubber-crab/x");
        assert_eq!(membership(&v2, "pids").unwrap().path, "/rubber-crab/x");
        assert!(membership(&v2, "pids").unwrap().unified);
        assert_eq!(membership(&[], "cpu"), None);
        // cpuacct is not cpu.
        assert_eq!(
            membership(&lines("3:cpuacct:/a\n0::/b"), "cpu")
                .unwrap()
                .path,
            "/b"
        );
    }

    #[test]
    fn a_container_s_group_is_one_level_below_the_parent() {
        assert_eq!(child_of("/p/q/abc", "p/q"), Some("abc"));
        assert_eq!(child_of("/p/q/abc", "/p/q/"), Some("abc"));
        assert_eq!(child_of("/p/q", "p/q"), None, "the parent itself");
        assert_eq!(child_of("/p/q/abc/x", "p/q"), None, "two levels down");
        assert_eq!(
            child_of("/p/qq/abc", "p/q"),
            None,
            "a sibling of the parent"
        );
        assert_eq!(child_of("/rubber-crab/abc", "p/q"), None);
    }

    #[test]
    fn cpu_quotas_are_quota_over_period_on_v1_and_v2() {
        assert_eq!(v1_cpu_ratio("50000", "100000"), Some(0.5));
        assert_eq!(v1_cpu_ratio("-1", "100000"), None);
        assert_eq!(v2_cpu_ratio("25000 100000\n"), Some(0.25));
        assert_eq!(v2_cpu_ratio("5000 10000"), Some(0.5));
        assert_eq!(v2_cpu_ratio("max 100000"), None);
    }

    #[test]
    fn shares_convert_to_a_weight_as_runc_did_and_does() {
        assert_eq!(shares_to_weight_linear(512), 20);
        assert_eq!(shares_to_weight_linear(1024), 39);
        assert_eq!(shares_to_weight_linear(2), 1);
        assert_eq!(shares_to_weight_linear(262144), 10000);
        // runc 1.3.2+ / crun 1.23 (opencontainers/runc#4785): 1024 -> 100, 2000 -> 170.
        assert_eq!(shares_to_weight_curve(1024), 100);
        assert_eq!(shares_to_weight_curve(2000), 170);
        assert_eq!(shares_to_weight_curve(512), 59);
        assert_eq!(shares_to_weight_curve(2048), 174);
        assert_eq!(shares_to_weight_curve(2), 1);
        assert_eq!(shares_to_weight_curve(262144), 10000);
    }

    #[test]
    fn a_v2_weight_passes_when_it_follows_the_shares_by_either_conversion() {
        for convert in [shares_to_weight_linear, shares_to_weight_curve] {
            assert_eq!(
                weight_judged(Some(convert(512)), Some(convert(2048))),
                Ok(())
            );
        }
        // Ignored: the default both times.
        assert!(weight_judged(Some(100), Some(100))
            .unwrap_err()
            .contains("ignored"));
        // Shares written as a weight.
        assert!(weight_judged(Some(512), Some(2048))
            .unwrap_err()
            .contains("below the default 100"));
        // A constant, or a weight that falls as the shares rise.
        assert!(weight_judged(Some(20), Some(20))
            .unwrap_err()
            .contains("more weight"));
        assert!(weight_judged(Some(50), Some(10)).is_err());
        assert!(weight_judged(None, Some(79)).is_err());
    }

    #[test]
    fn keyed_files_are_read_by_their_exact_key() {
        let stat = "usage_usec 10\nnr_periods 15\nnr_throttled 9\nthrottled_usec 5\n";
        assert_eq!(keyed(stat, "nr_periods"), Some(15));
        assert_eq!(keyed(stat, "nr_throttled"), Some(9));
        assert_eq!(keyed(stat, "throttled"), None);
    }

    #[test]
    fn throttling_passes_fails_or_skips_on_what_the_kernel_counted() {
        let t = |nr_periods, nr_throttled, cpu_ms| {
            throttled_verdict(Throttling {
                nr_periods,
                nr_throttled,
                quota_us: 25_000,
                period_us: 100_000,
                cpu_ms,
                wall_ms: 1500,
            })
        };
        assert_eq!(t(15, 11, 390), Verdict::Pass);
        assert!(matches!(
            t(0, 0, 1490),
            Verdict::Fail { observed, .. } if observed.contains("no quota")
        ));
        assert!(matches!(
            t(15, 14, 750),
            Verdict::Fail { observed, .. } if observed.contains("more CPU")
        ));
        // Moved into the group after it spun: 200 ms of CPU, 2 periods of 25 ms counted.
        assert!(matches!(
            t(2, 0, 200),
            Verdict::Fail { observed, .. } if observed.contains("outside the group")
        ));
        // A busy machine never let the probe reach its quota.
        assert!(matches!(
            t(53, 0, 195),
            Verdict::Skip(why) if why.contains("too busy")
        ));
        assert!(
            matches!(t(3, 0, 90), Verdict::Skip(_)),
            "within the periods' quota"
        );
    }

    #[test]
    fn a_quota_that_is_not_a_quarter_fails_whatever_the_cpu_time() {
        let t = |quota_us, period_us, cpu_ms| {
            throttled_verdict(Throttling {
                nr_periods: 15,
                nr_throttled: 14,
                quota_us,
                period_us,
                cpu_ms,
                wall_ms: 1500,
            })
        };
        // A tenth of the quota: the probe got a tenth of what it asked, never "a busy machine".
        assert!(matches!(
            t(2_500, 100_000, 40),
            Verdict::Fail { observed, .. } if observed.contains("0.025 CPU, not 0.25")
        ));
        // The same ratio on another period is the same quota; rounding to a µs is fine.
        assert_eq!(t(50_000, 200_000, 380), Verdict::Pass);
        assert_eq!(t(25_001, 100_000, 380), Verdict::Pass);
        assert!(matches!(t(30_000, 100_000, 440), Verdict::Fail { .. }));
        // A correct quota on a busy machine: throttled, less CPU than asked, still a pass.
        assert_eq!(t(25_000, 100_000, 220), Verdict::Pass);
    }

    #[test]
    fn an_oom_kill_is_found_in_the_kernel_log_by_pid() {
        assert_eq!(
            kmsg_message(b"6,1234,5678,-;Memory cgroup out of memory: Killed process 77 (probe) total-vm:1kB\n SUBSYSTEM=x\n"),
            "Memory cgroup out of memory: Killed process 77 (probe) total-vm:1kB"
        );
        let log = lines("oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/c/p/abc,task_memcg=/c/p/abc,task=probe,pid=77,uid=0\nMemory cgroup out of memory: Killed process 77 (probe) total-vm:1kB");
        assert_eq!(
            oom_kill_of(&log, 77),
            OomKill {
                memcg_kill: true,
                oom_memcg: Some("/c/p/abc".into())
            }
        );
        assert_eq!(oom_kill_of(&log, 7), OomKill::default());
        let global = lines("Out of memory: Killed process 77 (probe)");
        assert!(!oom_kill_of(&global, 77).memcg_kill);
    }
}
