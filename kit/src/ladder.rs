//! The level ladder: one row per level, shared by the checker and `cargo xtask generate`.

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub number: u32,
    /// Directory name under `levels/` and `solutions/`, e.g. `03-pivot-root`.
    pub dir: &'static str,
    /// What the learner writes, in a few words.
    pub title: &'static str,
}

impl Level {
    /// The attendee's crate: `level3`.
    pub fn skeleton_package(&self) -> String {
        format!("level{}", self.number)
    }

    /// The reference crate: `solution3`.
    pub fn solution_package(&self) -> String {
        format!("solution{}", self.number)
    }
}

pub const LADDER: &[Level] = &[
    Level {
        number: 0,
        dir: "00-fork-exec",
        title: "fork, exec and wait",
    },
    Level {
        number: 1,
        dir: "01-chroot",
        title: "a root filesystem from an image, with chroot",
    },
    Level {
        number: 2,
        dir: "02-mount-ns",
        title: "a mount namespace with its own /proc and /dev",
    },
    Level {
        number: 3,
        dir: "03-pivot-root",
        title: "pivot_root: leave the host's filesystem behind",
    },
    Level {
        number: 4,
        dir: "04-uts-ns",
        title: "UTS and IPC namespaces: a hostname of its own",
    },
    Level {
        number: 5,
        dir: "05-pid-ns",
        title: "a PID namespace: the command is PID 1",
    },
    Level {
        number: 6,
        dir: "06-net-ns",
        title: "a network namespace with only loopback, up",
    },
    Level {
        number: 7,
        dir: "07-overlay",
        title: "overlayfs: the image once, a writable layer per container",
    },
    Level {
        number: 8,
        dir: "08-cpu-cgroup",
        title: "a cgroup of its own: a CPU quota and a CPU weight",
    },
    Level {
        number: 9,
        dir: "09-memory-cgroup",
        title: "a memory limit, and saying why the OOM killer struck",
    },
    Level {
        number: 10,
        dir: "10-pids-cgroup",
        title: "a process limit that stops a fork bomb",
    },
    Level {
        number: 11,
        dir: "11-user",
        title: "a user: the command runs as --user, not as root",
    },
    Level {
        number: 12,
        dir: "12-capabilities",
        title: "capabilities: root inside, with Docker's short list of powers",
    },
    Level {
        number: 13,
        dir: "13-veth",
        title: "a network cable: a veth pair into the container",
    },
];

/// The level of a level's package: `level3` and `solution3` are level 3, and so is a variant of
/// one, `solution3-<anything>` (the checker's tests build attendee mistakes that way); anything
/// else, none.
pub fn number_of_package(package: &str) -> Option<u32> {
    let number = package
        .strip_prefix("level")
        .or_else(|| package.strip_prefix("solution"))?;
    let number = number.split_once('-').map_or(number, |(n, _)| n);
    number.parse().ok()
}

/// Looks a level up by number.
pub fn level(number: u32) -> Option<&'static Level> {
    LADDER.iter().find(|l| l.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_names_its_level() {
        assert_eq!(number_of_package("level3"), Some(3));
        assert_eq!(number_of_package("solution10"), Some(10));
        assert_eq!(number_of_package("broken"), None);
        assert_eq!(number_of_package("levelx"), None);
        assert_eq!(number_of_package("solution8-02-missing-private"), Some(8));
        assert_eq!(number_of_package("solution-8"), None);
    }
}
