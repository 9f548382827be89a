//! Processes as `/proc` shows them (proc(5)): the one place that lists, parses and walks them.
//! The probe reads its container's `/proc` with it, the checker and its tests the host's. Std
//! only, so that the static probe can use it too.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

/// What `/proc/<pid>/stat` says of a process, the fields we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name (`comm`, at most 15 bytes), without its parentheses.
    pub name: String,
    /// `R` running, `S` sleeping, `D` in the kernel, `Z` zombie, `T` stopped...
    pub state: char,
    pub ppid: u32,
    /// The process group.
    pub pgrp: u32,
    /// CPU time in clock ticks, in user and kernel mode.
    pub utime: u64,
    pub stime: u64,
    /// The kernel's `PF_*` flags of the process (`include/linux/sched.h`).
    pub flags: u64,
}

impl Stat {
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }

    /// In `exit(2)` or past it (`PF_EXITING`, set before the kernel lets go of anything and
    /// never cleared): a zombie, or a process on its way to being one.
    pub fn is_exiting(&self) -> bool {
        const PF_EXITING: u64 = 0x4;
        self.flags & PF_EXITING != 0
    }

    /// Running or waiting to run (R), or in the kernel (D: reclaiming memory, say), rather than
    /// asleep.
    pub fn is_at_work(&self) -> bool {
        matches!(self.state, 'R' | 'D')
    }
}

/// Parses the text of `/proc/<pid>/stat`: `pid (comm) state ppid pgrp ...`. The name may hold
/// spaces and parentheses, so it ends at the LAST `) `.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(") ")?;
    let name = head.split_once(" (")?.1.to_string();
    let fields: Vec<&str> = rest.split(' ').collect();
    // Fields 3.. of proc(5), counted from 0 after the name: state, ppid, pgrp, ... flags (6),
    // utime (11), stime (12).
    let number = |i: usize| -> Option<u64> { fields.get(i)?.trim().parse().ok() };
    Some(Stat {
        name,
        state: fields.first()?.chars().next()?,
        ppid: number(1)? as u32,
        pgrp: number(2)? as u32,
        utime: number(11)?,
        stime: number(12)?,
        flags: number(6)?,
    })
}

/// The process `pid`; `None` when it is gone.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every pid `/proc` lists, sorted.
pub fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// The arguments of `pid` (`/proc/<pid>/cmdline`, lossy UTF-8); empty when it is gone (or a
/// zombie, or a kernel thread).
pub fn argv(pid: u32) -> Vec<String> {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    cmdline
        .strip_suffix(&[0])
        .unwrap_or(&cmdline)
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The program `pid` runs (`/proc/<pid>/exe`).
pub fn exe(pid: u32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe")).ok()
}

/// Where in the kernel `pid` waits (`/proc/<pid>/wchan`); empty when it does not say.
pub fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan"))
        .map(|w| w.trim().to_string())
        .unwrap_or_default()
}

/// Pids of processes running `program` (their argv[0]) with `word` among their arguments.
pub fn running_with(program: &str, word: &str) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| {
            let argv = argv(pid);
            argv.first().is_some_and(|a| a == program) && argv[1..].iter().any(|a| a == word)
        })
        .collect()
}

/// Pids of the live (not zombie) processes of process group `pgid`.
pub fn live_members_of_group(pgid: u32) -> Vec<u32> {
    pids()
        .into_iter()
        .filter(|&pid| stat(pid).is_some_and(|s| !s.is_zombie() && s.pgrp == pgid))
        .collect()
}

/// Whether `ancestor` is `pid` or one of its ancestors.
pub fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut current = pid;
    // A bound, should /proc change under the walk.
    for _ in 0..64 {
        if current == ancestor {
            return true;
        }
        match stat(current) {
            Some(s) if s.ppid > 0 => current = s.ppid,
            _ => return false,
        }
    }
    false
}

/// The CPU time (user and system) the processes `pids` have used; the gone ones count nothing.
pub fn cpu_time(pids: &[u32]) -> Duration {
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = match unsafe { libc::sysconf(libc::_SC_CLK_TCK) } {
        t if t > 0 => t as u64,
        _ => 100,
    };
    let ticks: u64 = pids
        .iter()
        .filter_map(|&pid| stat(pid))
        .map(|s| s.utime + s.stime)
        .sum();
    Duration::from_millis(ticks * 1000 / ticks_per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_parsed_past_a_name_with_spaces_and_parentheses() {
        let text = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 \
                    12345 1000 100 18446744073709551615\n";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                name: "my (odd) name".into(),
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                utime: 7,
                stime: 3,
                flags: 4194560,
            })
        );
        assert!(!parse_stat(text).unwrap().is_at_work());
        assert!(!parse_stat(text).unwrap().is_exiting());
        let exiting = text.replacen(" 4194560 ", " 4194564 ", 1);
        assert!(parse_stat(&exiting).unwrap().is_exiting());
        let working = text.replacen(") S ", ") D ", 1);
        assert!(parse_stat(&working).unwrap().is_at_work());
        assert_eq!(parse_stat("4242 (cut) S 1"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn this_process_is_found_and_walked() {
        let me = std::process::id();
        assert!(pids().contains(&me));
        let mine = stat(me).unwrap();
        assert!(!mine.is_zombie() && !mine.is_exiting(), "{mine:?}");
        assert!(descends_from(me, me));
        assert!(descends_from(me, mine.ppid));
        assert!(!descends_from(mine.ppid, me));
        assert_eq!(argv(me).first(), std::env::args().next().as_ref());
        assert_eq!(exe(me), std::env::current_exe().ok());
        assert!(live_members_of_group(mine.pgrp).contains(&me));
        assert_eq!(stat(u32::MAX), None);
    }
}
