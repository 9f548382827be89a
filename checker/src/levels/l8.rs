//! Level 8 — a cgroup of its own: a CPU quota and a CPU weight.

use super::cgroup::{
    child_of, cleanup_verdict, held_group, keyed, membership, not_below, shares_to_weight,
    throttled_verdict, v1_cpu_ratio, v2_cpu_ratio, Group, Throttling, CGROUPS, CGROUP_V2,
};
use crate::check::{fail, report_or_fail, Check, Ctx, Verdict};
use anyhow::Result;
use probe::{BURN, REPORT};

/// The flags of the level's runs: a quota and a weight, so a group is needed in the cpu
/// controller's hierarchy.
const CPU_FLAGS: [&str; 4] = ["--cpus", "0.5", "--cpu-shares", "512"];

pub const CHECKS: &[Check] = &[
    Check {
        id: "L8.cpu-cgroup.inside",
        level: 8,
        title: "from its first instruction, the command is in <cgroup-parent>/<id> (/proc/self/cgroup)",
        hint: "Create the group <cgroup-parent>/<id> and move the child into it before it execs: the parent writes the child's pid to cgroup.procs, then lets it go on through a pipe (or the child writes \"0\" there itself). Moved after exec, the command runs its first instructions in the runtime's group. Try: your runtime run -- cat /proc/self/cgroup.",
        doc: CGROUPS,
        run: in_its_group_from_the_start,
    },
    Check {
        id: "L8.cpu-cgroup.outside",
        level: 8,
        title: "the host sees the command's pid in its group's cgroup.procs",
        hint: "Write the child's host pid (what fork returned in the parent) to <group>/cgroup.procs, in the hierarchy holding the cpu controller (v1: /sys/fs/cgroup/cpu/...; v2: /sys/fs/cgroup/...).",
        doc: CGROUPS,
        run: host_sees_it_in_its_group,
    },
    Check {
        id: "L8.cpu-cgroup.quota",
        level: 8,
        title: "--cpus 0.5 sets a quota of half a CPU per period",
        hint: "--cpus 0.5 is a quota of 0.5 × the period: v1 writes cpu.cfs_period_us (100000) and cpu.cfs_quota_us (50000); v2 writes \"50000 100000\" (quota, then period) to cpu.max.",
        doc: CGROUP_V2,
        run: quota_is_half_a_cpu,
    },
    Check {
        id: "L8.cpu-cgroup.weight",
        level: 8,
        title: "--cpu-shares 512 sets the CPU weight (v1 cpu.shares 512, v2 cpu.weight 20)",
        hint: "v1: write the shares to cpu.shares as they are. v2: cpu.weight is 1..10000, not shares: convert as runc does (libcontainer/cgroups/utils.go, ConvertCPUSharesToCgroupV2Value): 1 + ((shares - 2) * 9999) / 262142.",
        doc: CGROUP_V2,
        run: weight_follows_the_shares,
    },
    Check {
        id: "L8.cpu-cgroup.throttled",
        level: 8,
        title: "under --cpus 0.25, a command that spins gets about a quarter of a CPU",
        hint: "The kernel enforces the quota of the group the process is in: write the quota to the container's own group (not its parent), and move the child into that group before it execs.",
        doc: "https://docs.kernel.org/scheduler/sched-bwc.html",
        run: quota_throttles_a_spinning_command,
    },
    Check {
        id: "L8.cpu-cgroup.cleanup",
        level: 8,
        title: "once the container has exited, its group is removed",
        hint: "After waitpid, rmdir the container's group (std::fs::remove_dir) in every hierarchy where you created it; a group is removed with rmdir, never by deleting its files.",
        doc: CGROUPS,
        run: group_removed_after_exit,
    },
    super::input_more::BAD_CPUS,
    super::input_more::BAD_CGROUP_PARENT,
];

fn in_its_group_from_the_start(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = CPU_FLAGS.iter().map(|f| f.to_string()).collect();
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    let parent = &run.cgroup_parent;
    let expected =
        format!("/proc/self/cgroup names /{parent}/<container-id> for the cpu controller");
    Ok(match membership(&report.cgroup, "cpu") {
        Some(m) if child_of(&m.path, parent).is_some() => Verdict::Pass,
        Some(m) => fail(expected, not_below(&m.path, parent, "cpu")),
        None => fail(
            expected,
            format!("no line for the cpu controller: {:?}", report.cgroup),
        ),
    })
}

fn host_sees_it_in_its_group(ctx: &mut Ctx) -> Result<Verdict> {
    let seen = held_group(ctx, &CPU_FLAGS, (REPORT, &[]), "cpu", |group, pid| {
        let members = crate::cgroups::members(&group.dir);
        (group.file("cgroup.procs"), pid, members)
    })?;
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((_, (_, pid, members))) if members.contains(&pid) => Verdict::Pass,
        Ok((_, (file, pid, members))) => fail(
            format!("{file} lists the command's host pid {pid}"),
            format!("it lists {members:?}"),
        ),
    })
}

fn quota_is_half_a_cpu(ctx: &mut Ctx) -> Result<Verdict> {
    let seen = held_group(ctx, &CPU_FLAGS, (REPORT, &[]), "cpu", |g, _| quota_of(g))?;
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((_, (Some(ratio), _))) if (ratio - 0.5).abs() < 0.001 => Verdict::Pass,
        Ok((_, (_, shown))) => fail("a quota of 0.5 × the period", shown),
    })
}

/// The group's quota over its period, and the files as read.
fn quota_of(group: &Group) -> (Option<f64>, String) {
    let read = |file: &str| group.read(file).unwrap_or_else(|| "(unreadable)".into());
    if group.unified {
        let max = read("cpu.max");
        (
            v2_cpu_ratio(&max),
            format!("{}: {max:?}", group.file("cpu.max")),
        )
    } else {
        let (quota, period) = (read("cpu.cfs_quota_us"), read("cpu.cfs_period_us"));
        (
            v1_cpu_ratio(&quota, &period),
            format!(
                "{}: {quota}, {}: {period}",
                group.file("cpu.cfs_quota_us"),
                group.file("cpu.cfs_period_us")
            ),
        )
    }
}

fn weight_follows_the_shares(ctx: &mut Ctx) -> Result<Verdict> {
    let seen = held_group(ctx, &CPU_FLAGS, (REPORT, &[]), "cpu", |group, _| {
        let (file, wanted) = if group.unified {
            ("cpu.weight", shares_to_weight(512))
        } else {
            ("cpu.shares", 512)
        };
        (group.file(file), wanted, group.read(file))
    })?;
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((_, (file, wanted, value))) => match value {
            Some(v) if v == wanted.to_string() => Verdict::Pass,
            other => fail(
                format!("{file} holds {wanted}"),
                format!(
                    "{file} holds {}",
                    other.unwrap_or_else(|| "nothing readable".into())
                ),
            ),
        },
    })
}

/// How long the probe spins: long enough for ten 100 ms periods and more.
const BURN_MS: &str = "1500";

fn quota_throttles_a_spinning_command(ctx: &mut Ctx) -> Result<Verdict> {
    let flags = ["--cpus", "0.25"];
    let seen = held_group(ctx, &flags, (BURN, &[BURN_MS]), "cpu", |group, _| {
        let stat = group.read("cpu.stat").unwrap_or_default();
        let quota = if group.unified {
            group
                .read("cpu.max")
                .and_then(|max| max.split_whitespace().next()?.parse().ok())
        } else {
            group.read("cpu.cfs_quota_us").and_then(|q| q.parse().ok())
        };
        (
            keyed(&stat, "nr_periods"),
            keyed(&stat, "nr_throttled"),
            quota,
        )
    })?;
    Ok(match seen {
        Err(verdict) => verdict,
        Ok((burn, _)) if !burn.ok => fail(
            "the probe spins and measures its CPU time",
            format!("it could not: {}", burn.error.unwrap_or_default()),
        ),
        Ok((burn, (Some(nr_periods), Some(nr_throttled), Some(quota_us)))) => {
            throttled_verdict(Throttling {
                nr_periods,
                nr_throttled,
                quota_us,
                cpu_ms: burn.cpu_ms,
                wall_ms: burn.wall_ms,
            })
        }
        Ok((burn, _)) => fail(
            "the group's cpu.stat counts its quota periods (nr_periods, nr_throttled)",
            format!(
                "cpu.stat has no such counts (no quota enforced?); CPU time / wall time {:.2}",
                burn.ratio()
            ),
        ),
    })
}

fn group_removed_after_exit(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = CPU_FLAGS.iter().map(|f| f.to_string()).collect();
    let run = ctx.probe(REPORT, &[])?;
    report_or_fail!(run);
    Ok(cleanup_verdict(&run))
}
