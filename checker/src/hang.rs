//! What a runtime that hit the timeout was doing: its process tree, and what each process was
//! waiting in (`/proc/<pid>/stat` for its state, `/proc/<pid>/wchan` for the kernel function it
//! sleeps in). Read just before the kill, so a learner sees why it hung: a parent in `do_wait`
//! whose child is a zombie waits on the wrong pid; one in `hrtimer_nanosleep` sleeps forever.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Processes shown one per line; past that, the rest are counted by what they wait in.
const SHOWN: usize = 8;

/// How long reading /proc may take: under a fork bomb each read waits for the process's memory
/// map lock, and the verdict must not wait for thousands of them.
const READ_BUDGET: Duration = Duration::from_millis(1000);

/// One process as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
    /// The state letter of proc(5): R, S, D, Z, T...
    pub state: char,
    /// The kernel function it sleeps in; empty when running or unknown.
    pub wchan: String,
}

/// The tree under `runtime_pid`, plus the processes of its cage (`caged`, where there is one:
/// then only they are read, since every process the runtime started is in it).
pub fn describe(runtime_pid: u32, caged: Option<Vec<u32>>) -> String {
    let mut wanted: BTreeSet<u32> = caged.clone().unwrap_or_default().into_iter().collect();
    wanted.insert(runtime_pid);
    let candidates: Vec<u32> = match caged {
        Some(_) => wanted.iter().copied().collect(),
        None => probe::proc::pids(),
    };
    let until = Instant::now() + READ_BUDGET;
    let all: Vec<Process> = candidates
        .iter()
        .take_while(|_| Instant::now() < until)
        .filter_map(|&pid| read(pid))
        .collect();
    let mut text = render(&select(&all, &wanted), runtime_pid);
    let unread = candidates.len().saturating_sub(all.len());
    if Instant::now() >= until && unread > 0 {
        text.push_str(&format!(
            "\n(and up to {unread} more not read: reading /proc took longer than {} ms)",
            READ_BUDGET.as_millis()
        ));
    }
    text
}

/// `wanted` and every descendant of theirs, parents before children, each with its depth.
pub fn select(all: &[Process], wanted: &BTreeSet<u32>) -> Vec<(Process, usize)> {
    let mut children: BTreeMap<u32, Vec<&Process>> = BTreeMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut chosen = Vec::new();
    let mut seen = BTreeSet::new();
    // Roots: wanted processes whose parent is not wanted (the runtime, escaped orphans).
    let roots = all
        .iter()
        .filter(|p| wanted.contains(&p.pid) && !wanted.contains(&p.ppid));
    for root in roots {
        let mut stack = vec![(root, 0usize)];
        while let Some((p, depth)) = stack.pop() {
            if !seen.insert(p.pid) {
                continue;
            }
            chosen.push((p.clone(), depth));
            for child in children.get(&p.pid).into_iter().flatten().rev() {
                stack.push((child, depth + 1));
            }
        }
    }
    chosen
}

/// One line per process (indented under its parent), then a count of the rest by what they
/// wait in.
pub fn render(tree: &[(Process, usize)], runtime_pid: u32) -> String {
    if tree.is_empty() {
        return format!("the runtime (host pid {runtime_pid}) was already gone");
    }
    let mut lines: Vec<String> = tree
        .iter()
        .take(SHOWN)
        .map(|(p, depth)| line(p, *depth))
        .collect();
    if tree.len() > SHOWN {
        let mut waits: BTreeMap<String, usize> = BTreeMap::new();
        for (p, _) in &tree[SHOWN..] {
            *waits.entry(doing(p)).or_default() += 1;
        }
        let mut counted: Vec<(String, usize)> = waits.into_iter().collect();
        counted.sort_by_key(|c| std::cmp::Reverse(c.1));
        let what: Vec<String> = counted
            .iter()
            .map(|(doing, n)| format!("{n} {doing}"))
            .collect();
        lines.push(format!(
            "… and {} more processes: {}",
            tree.len() - SHOWN,
            what.join(", ")
        ));
    }
    lines.join("\n")
}

fn line(p: &Process, depth: usize) -> String {
    let indent = "  ".repeat(depth.min(6));
    format!("{indent}pid {} {}: {}", p.pid, p.name, doing(p))
}

/// What a process was doing, in words.
fn doing(p: &Process) -> String {
    let wchan = match p.wchan.as_str() {
        "" | "0" => String::new(),
        w => format!(" in {w}"),
    };
    match p.state {
        'R' => "running".into(),
        'S' => format!("sleeping{wchan}"),
        'D' => format!("in uninterruptible sleep{wchan}"),
        'Z' => "a zombie: it ended, and its parent has not waited for it".into(),
        'T' | 't' => format!("stopped{wchan}"),
        other => format!("state {other}{wchan}"),
    }
}

fn read(pid: u32) -> Option<Process> {
    let stat = probe::proc::stat(pid)?;
    Some(Process {
        pid,
        ppid: stat.ppid,
        name: stat.name,
        state: stat.state,
        wchan: probe::proc::wchan(pid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, ppid: u32, name: &str, state: char, wchan: &str) -> Process {
        Process {
            pid,
            ppid,
            name: name.into(),
            state,
            wchan: wchan.into(),
        }
    }

    #[test]
    fn the_tree_shows_each_process_under_its_parent_with_what_it_waits_in() {
        let all = [
            process(1, 0, "init", 'S', "do_epoll_wait"),
            process(10, 1, "runtime", 'S', "do_wait"),
            process(11, 10, "probe", 'Z', "0"),
            process(12, 1, "escaped", 'S', "hrtimer_nanosleep"),
            process(13, 1, "stranger", 'R', ""),
        ];
        let tree = select(&all, &BTreeSet::from([10, 12]));
        assert_eq!(
            render(&tree, 10),
            "pid 10 runtime: sleeping in do_wait\n  \
             pid 11 probe: a zombie: it ended, and its parent has not waited for it\n\
             pid 12 escaped: sleeping in hrtimer_nanosleep"
        );
    }

    #[test]
    fn thousands_of_processes_are_counted_by_what_they_wait_in() {
        let mut all = vec![process(10, 1, "runtime", 'S', "do_wait")];
        all.extend((100..3100).map(|pid| process(pid, 10, "sleeper", 'S', "hrtimer_nanosleep")));
        let text = render(&select(&all, &BTreeSet::from([10])), 10);
        assert_eq!(text.lines().count(), SHOWN + 1);
        assert!(
            text.ends_with("… and 2993 more processes: 2993 sleeping in hrtimer_nanosleep"),
            "{text}"
        );
    }

    #[test]
    fn the_checkers_own_process_is_described() {
        let me = std::process::id();
        let text = describe(me, None);
        assert!(text.starts_with(&format!("pid {me}")), "{text}");
    }
}
