//! Level 8 — a cgroup of its own: a CPU quota and a CPU weight.

use super::cgroup::{
    child_of, cleanup_verdict, held_group, keyed, membership, not_below, settled_group,
    throttled_verdict, v1_cpu_ratio, v2_cpu_ratio, weight_judged, Group, Throttling, CGROUPS,
    CGROUP_V2,
};
use crate::check::{fail, fail_hinting, report_or_fail, Check, Ctx, Verdict};
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
        title: "--cpu-shares sets the CPU weight: v1 cpu.shares as given; v2 a cpu.weight that follows the shares (512 below the default 100, 2048 above 512's)",
        hint: "v1: write the shares to cpu.shares as they are. v2: cpu.weight is 1..10000 (default 100), not shares: convert. Two conversions are in use: runc up to 1.3.1 (and crun before 1.23) map 2..262144 linearly, 1 + ((shares - 2) * 9999) / 262142 (512 gives 20); runc 1.3.2 and later and crun 1.23 use a curve that maps 1024 to 100 (opencontainers/cgroups, ConvertCPUSharesToCgroupV2Value: 512 gives 59). Either passes.",
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
    // The hold: the runtime's parent is held still while its child runs, and the command's
    // group is read at its exec. The host's view while the probe holds tells a group never
    // joined from one joined late.
    ctx.watch_exec = true;
    let (run, host) = ctx.hold(REPORT, &[], |held| {
        settled_group(held.probe_pid?, held.runtime_pid, held.cgroup_parent, "cpu")
    })?;
    ctx.watch_exec = false;
    let report = report_or_fail!(run);
    let parent = &run.cgroup_parent;
    let expected =
        format!("/proc/self/cgroup names /{parent}/<container-id> for the cpu controller");
    let at_exec = run.at_exec.as_ref().and_then(|seen| seen.as_ref().ok());
    let runtime_group = at_exec.and_then(|seen| seen.runtime_group("cpu"));
    // Where the command ended up: the host's view while it held, else its own.
    let Some(settled) = host.flatten().or_else(|| membership(&report.cgroup, "cpu")) else {
        return Ok(fail(
            expected,
            format!("no line for the cpu controller: {:?}", report.cgroup),
        ));
    };
    if child_of(&settled.path, parent).is_none() {
        return Ok(misplaced(expected, &settled.path, parent, runtime_group));
    }
    // In its group by now; was it there from the start?
    let at_start = match at_exec.and_then(|seen| seen.group("cpu")) {
        Some(at_exec) if child_of(&at_exec, parent).is_none() => Some(format!(
            "when the command exec'd, its cpu group was {at_exec}{}; it was moved into {} only afterwards",
            match runtime_group.as_deref() {
                Some(runtime) if runtime == at_exec => " (the runtime's own group)",
                _ => "",
            },
            settled.path
        )),
        _ => match membership(&report.cgroup, "cpu") {
            Some(seen) if child_of(&seen.path, parent).is_none() => Some(format!(
                "the probe's /proc/self/cgroup named {} for cpu; it was moved into {} only afterwards",
                seen.path, settled.path
            )),
            _ => None,
        },
    };
    Ok(match at_start {
        Some(observed) => fail_hinting(
            format!("{expected} from the command's first instruction"),
            format!("the command ran before it was in its group: the child must wait on the pipe until the parent has moved it ({observed})"),
            RAN_BEFORE_ATTACHED,
        ),
        None => Verdict::Pass,
    })
}

/// The hint of a command that ran before the parent had moved it.
const RAN_BEFORE_ATTACHED: &str = "The child must wait on the pipe until the parent has moved it: in the child, read(pipe) comes first, before any setup; in the parent, create the group, write the limits, write the child's pid to cgroup.procs, and only then write the byte that releases it. The checker holds your parent still while the child runs, so a child that does not wait, or a release before the attach, is always caught. Try: your runtime run --explain -- /bin/true, and check that the cgroup.procs write comes before write(pipe).";

/// The hint of a group made somewhere other than below `--cgroup-parent`.
const NOT_BELOW_THE_PARENT: &str = "The container's group is <cgroup-parent>/<id>, the --cgroup-parent value joined to each hierarchy's root (v1: /sys/fs/cgroup/cpu/<cgroup-parent>/<id>; v2: /sys/fs/cgroup/<cgroup-parent>/<id>), not a group of your own naming: the checker passes a parent inside its own group and looks there. Try: your runtime run --cgroup-parent test/here -- cat /proc/self/cgroup.";

/// The verdict on a command whose cpu group is not `<parent>/<id>`: never moved (still in the
/// runtime's group, or an ancestor of the parent), or moved into a group made elsewhere.
fn misplaced(expected: String, path: &str, parent: &str, runtime: Option<String>) -> Verdict {
    let observed = not_below(path, parent, "cpu");
    let parent = parent.trim_matches('/');
    let trimmed = path.trim_matches('/');
    let not_moved = runtime.as_deref() == Some(path)
        || trimmed.is_empty()
        || parent.starts_with(&format!("{trimmed}/"))
        || own_group("cpu").as_deref() == Some(path);
    match not_moved {
        true => fail(expected, observed),
        false => fail_hinting(expected, observed, NOT_BELOW_THE_PARENT),
    }
}

/// The checker's own group for `controller`: where a runtime without a cage runs.
fn own_group(controller: &str) -> Option<String> {
    let lines = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    membership(
        &lines.lines().map(String::from).collect::<Vec<_>>(),
        controller,
    )
    .map(|m| m.path)
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
        Ok((_, (Some(ratio), shown))) => fail(
            "a quota of 0.5 × the period (v1 50000 per 100000 µs; v2 cpu.max \"50000 100000\")",
            format!("{shown}: that is {ratio} CPU, not 0.5 (both files are in µs)"),
        ),
        Ok((_, (None, shown))) => fail("a quota of 0.5 × the period", format!("{shown}: no quota")),
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
    let read_weight = |group: &Group, _| {
        let file = if group.unified {
            "cpu.weight"
        } else {
            "cpu.shares"
        };
        let value = group.read(file);
        (group.unified, group.file(file), value)
    };
    let seen = held_group(ctx, &CPU_FLAGS, (REPORT, &[]), "cpu", read_weight)?;
    let (unified, file, value) = match seen {
        Err(verdict) => return Ok(verdict),
        Ok((_, seen)) => seen,
    };
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<u64>().ok());
    if !unified {
        return Ok(match parse(&value) {
            Some(512) => Verdict::Pass,
            _ => fail(
                format!("{file} holds 512 (v1 shares are written as given)"),
                format!("{file} holds {}", shown(&value)),
            ),
        });
    }
    // v2: a second run with more shares, to see the weight follow them.
    let flags = ["--cpus", "0.5", "--cpu-shares", "2048"];
    let more = match held_group(ctx, &flags, (REPORT, &[]), "cpu", read_weight)? {
        Err(verdict) => return Ok(verdict),
        Ok((_, (_, _, more))) => more,
    };
    Ok(match weight_judged(parse(&value), parse(&more)) {
        Ok(()) => Verdict::Pass,
        Err(why) => fail(
            "cpu.weight below the default 100 for --cpu-shares 512, and higher for 2048 (runc's conversions: 512 gives 20 or 59, 2048 gives 79 or 174)",
            format!(
                "{file} holds {} for 512 and {} for 2048: {why}",
                shown(&value),
                shown(&more)
            ),
        ),
    })
}

fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "nothing readable".into())
}

/// How long the probe spins: long enough for ten 100 ms periods and more.
const BURN_MS: &str = "1500";

fn quota_throttles_a_spinning_command(ctx: &mut Ctx) -> Result<Verdict> {
    let flags = ["--cpus", "0.25"];
    let seen = held_group(ctx, &flags, (BURN, &[BURN_MS]), "cpu", |group, _| {
        let stat = group.read("cpu.stat").unwrap_or_default();
        let quota = if group.unified {
            group.read("cpu.max").and_then(|max| {
                let (quota, period) = max.split_once(' ')?;
                Some((quota.parse().ok()?, period.trim().parse().ok()?))
            })
        } else {
            let read = |file| group.read(file).and_then(|v| v.parse().ok());
            read("cpu.cfs_quota_us").zip(read("cpu.cfs_period_us"))
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
        Ok((burn, (Some(nr_periods), Some(nr_throttled), Some((quota_us, period_us))))) => {
            throttled_verdict(Throttling {
                nr_periods,
                nr_throttled,
                quota_us,
                period_us,
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
