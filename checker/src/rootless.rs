//! Which levels can be checked without root (`--rootless`): the runtime runs as root in a user
//! namespace the checker creates, which is enough for namespaces, chroot, pivot_root, proc,
//! tmpfs, sethostname and `lo`, for overlayfs from Linux 5.11 on, and for veth pairs (level 13:
//! the runtime's "host" is a network namespace of that user namespace's, where its root may add
//! links). What stays the host's
//! (its cgroups, its network namespace, every user id but yours) is out of reach: the levels that
//! need it are skipped, with the reason.

/// Why level `level` cannot be checked rootless here, or None when it can.
pub fn blocker(level: u32) -> Option<String> {
    blocker_on(level, &crate::kernel::release())
}

/// The overlay level: overlayfs can be mounted in a user namespace from Linux 5.11 on.
const OVERLAY_LEVEL: u32 = 7;
/// The cpu, memory and pids cgroup levels (LEVELS.md).
const CGROUP_LEVELS: std::ops::RangeInclusive<u32> = 8..=10;
/// setuid/setgid to the user `--user` names.
const USER_LEVEL: u32 = 11;
fn blocker_on(level: u32, release: &str) -> Option<String> {
    let why = match level {
        OVERLAY_LEVEL if crate::kernel::version(release) < (5, 11) => format!(
            "overlayfs cannot be mounted in a user namespace before Linux 5.11 (this is {release})"
        ),
        level if CGROUP_LEVELS.contains(&level) => {
            "cgroups are the host's, and only root may create them: a user namespace gives you none"
                .to_string()
        }
        USER_LEVEL => "the user namespace maps only your own user id (as root): there is no other \
                       user to switch to"
            .to_string(),
        _ => return None,
    };
    Some(format!("{why}; check level{level} as root"))
}

/// The levels of the ladder `--rootless` can check here, for messages: "levels 0 to 7".
pub fn levels_that_run() -> String {
    let release = crate::kernel::release();
    let numbers: Vec<u32> = kit::ladder::LADDER
        .iter()
        .map(|level| level.number)
        .filter(|&number| blocker_on(number, &release).is_none())
        .collect();
    spans(&numbers)
}

/// "levels 0 to 7, 12": runs of consecutive numbers joined.
fn spans(numbers: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &n in numbers {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == n => *last = n,
            _ => runs.push((n, n)),
        }
    }
    let runs: Vec<String> = runs
        .iter()
        .map(|&(first, last)| match last - first {
            0 => first.to_string(),
            1 => format!("{first}, {last}"),
            _ => format!("{first} to {last}"),
        })
        .collect();
    match numbers.len() {
        0 => "no level".into(),
        1 => format!("level {}", runs[0]),
        _ => format!("levels {}", runs.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_needs_linux_5_11_in_a_user_namespace() {
        assert!(blocker_on(7, "5.10.0-28-amd64").is_some());
        assert!(blocker_on(7, "5.11.0").is_none());
        assert!(blocker_on(7, "6.18.44-fc-v782").is_none());
        assert!(blocker_on(3, "4.19.0").is_none());
    }

    #[test]
    fn what_only_the_hosts_root_may_change_is_skipped_with_the_reason() {
        for level in [8, 9, 10] {
            let why = blocker_on(level, "6.1.0").unwrap();
            assert!(why.contains("cgroups"), "{why}");
            assert!(
                why.ends_with(&format!("check level{level} as root")),
                "{why}"
            );
        }
        assert!(blocker_on(11, "6.1.0").unwrap().contains("user id"));
        // Capabilities are the user namespace's own: level 12 runs (its --user check skips).
        assert!(blocker_on(12, "6.1.0").is_none());
        // The veth level runs: the runtime's "host" is a network namespace the checker makes in
        // its user namespace, where the runtime, root there, has CAP_NET_ADMIN: it may create a
        // pair, move an end into the container's namespace (one its user namespace owns too),
        // address both and delete them. Nothing of the machine's own network is involved.
        assert!(blocker_on(13, "6.1.0").is_none());
        assert!(
            blocker_on(12, "6.1.0").is_none(),
            "capabilities work in a user namespace"
        );
    }

    #[test]
    fn level_numbers_read_as_spans() {
        assert_eq!(spans(&[0, 1, 2, 3, 4, 5, 6, 7]), "levels 0 to 7");
        assert_eq!(spans(&[0, 1, 2, 3, 4, 5, 6, 7, 12]), "levels 0 to 7, 12");
        assert_eq!(spans(&[0, 1, 3]), "levels 0, 1, 3");
        assert_eq!(spans(&[4]), "level 4");
        assert_eq!(spans(&[]), "no level");
    }
}
