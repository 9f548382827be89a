//! Every fault of the broken runtime, and the test that proves the checker catches it. One
//! table for both sides: the runtime dispatches on it, and the checker's tests include this very
//! file (`checker/tests/common.rs`), so a fault without a test, or a test of an unknown fault,
//! fails a test that needs no root. Std only, for that reason.

/// One way to be wrong.
pub struct Fault {
    pub name: &'static str,
    /// The level of runtime it is: the mechanisms of levels 0..=level are there, correct but for
    /// the fault.
    pub level: u32,
    /// What the runtime does wrong (or, for a correct one, how it differs from our solutions).
    pub what: &'static str,
    pub proof: Proof,
}

/// Where a fault is proved caught.
pub enum Proof {
    /// `checker/tests/broken.rs`: checked as `checker levelN --keep-going` at the level given,
    /// exactly the checks listed fail (none: the runtime is correct).
    Fails(u32, &'static [&'static str]),
    /// `checker/tests/hostile.rs`: an attack on the checker itself, which must still give a clear
    /// verdict within the timeout and leave the host as it was.
    Hostile,
    /// `checker/tests/first_verdict.rs`: a mistake that breaks every run, whose first verdict
    /// must name the real cause.
    FirstVerdict,
}

use Proof::{Fails, FirstVerdict, Hostile};

impl Proof {
    /// What proves it, for `broken`'s list of faults.
    pub fn describe(&self) -> String {
        match self {
            Fails(at, []) => format!("passes every check of level {at}"),
            Fails(at, checks) => format!("fails {} at level {at}", checks.join(", ")),
            Hostile => "attacks the checker (tests/hostile.rs)".into(),
            FirstVerdict => "breaks every run (tests/first_verdict.rs)".into(),
        }
    }
}

/// The fault called `name`.
pub fn find(name: &str) -> Option<&'static Fault> {
    FAULTS.iter().find(|f| f.name == name)
}

pub const FAULTS: &[Fault] = &[
    Fault {
        name: "correct",
        level: 12,
        what: "a correct level-12 runtime",
        proof: Fails(12, &[]),
    },
    Fault {
        name: "mixed-streams",
        level: 0,
        what: "the command's stderr goes to stdout",
        proof: Fails(0, &["L0.fork-exec.output", "L0.fork-exec.missing-command"]),
    },
    Fault {
        name: "exit-zero",
        level: 0,
        what: "always exits 0",
        proof: Fails(
            0,
            &[
                "L0.fork-exec.exit-code",
                "L0.fork-exec.signal",
                "L0.fork-exec.waits",
                "L0.fork-exec.missing-command",
            ],
        ),
    },
    Fault {
        name: "signal-number",
        level: 0,
        what: "returns N, not 128+N, for death by signal N",
        proof: Fails(0, &["L0.fork-exec.signal"]),
    },
    Fault {
        name: "joined-argv",
        level: 0,
        what: "joins the arguments and splits them on spaces",
        proof: Fails(0, &["L0.fork-exec.argv"]),
    },
    Fault {
        name: "no-wait",
        level: 0,
        what: "exits without waiting for the command",
        proof: Fails(
            0,
            &[
                "L0.fork-exec.exit-code",
                "L0.fork-exec.signal",
                "L0.fork-exec.waits",
                "L0.fork-exec.child",
                "L0.fork-exec.missing-command",
            ],
        ),
    },
    // Once the runtime has become the command, nothing is left to turn a signal into 128+N.
    Fault {
        name: "exec-without-fork",
        level: 0,
        what: "execs the command in place of the runtime",
        proof: Fails(0, &["L0.fork-exec.signal", "L0.fork-exec.child"]),
    },
    Fault {
        name: "panic-on-missing",
        level: 0,
        what: "unwraps the exec error",
        proof: Fails(0, &["L0.fork-exec.missing-command"]),
    },
    // Hostile runtimes: not mistakes a check exists for, but ways to attack the checker itself.
    // Each must get a clear verdict within the timeout and leave the host as it was.
    Fault {
        name: "hang",
        level: 0,
        what: "every check, by the timeout: runs the command, then never exits",
        proof: Hostile,
    },
    Fault {
        name: "flood",
        level: 0,
        what: "the checker's output cap: prints 50 MB before running the command",
        proof: Hostile,
    },
    Fault {
        name: "fork-bomb",
        level: 0,
        what: "the checker's pids cap: forks without limit (only inside a pids-capped cgroup)",
        proof: Hostile,
    },
    Fault {
        name: "memory-hog",
        level: 0,
        what: "the checker's memory cap: allocates and touches 1 GiB",
        proof: Hostile,
    },
    Fault {
        name: "slow-memory-hog",
        level: 0,
        what: "the checker's memory cap on a slow machine: touches 1 GiB at 256 MiB/s, past the \
            timeout",
        proof: Hostile,
    },
    Fault {
        name: "panic",
        level: 0,
        what: "a runtime that panics before doing anything",
        proof: Hostile,
    },
    Fault {
        name: "orphan",
        level: 0,
        what: "the cage: exits at once, its child having left the process group (setsid)",
        proof: Hostile,
    },
    Fault {
        name: "mount-over-work",
        level: 0,
        what: "the host guard: escapes to the host's mount namespace and mounts over the \
            checker's work dir",
        proof: Hostile,
    },
    Fault {
        name: "nsenter-uts",
        level: 0,
        what: "the host guard: a child of the runtime joins the checker's UTS namespace \
            (nsenter -t <the checker> -u) and sets the hostname there",
        proof: Hostile,
    },
    Fault {
        name: "nsenter-mount",
        level: 0,
        what: "the host guard: a child of the runtime joins the checker's mount namespace \
            (nsenter -t <the checker> -m) and mounts a tmpfs on /mnt",
        proof: Hostile,
    },
    Fault {
        name: "leave-behind",
        level: 0,
        what: "the host guard: leaves a rubber-crab/ cgroup (with the command in it) and a mount \
            behind",
        proof: Hostile,
    },
    Fault {
        name: "leak-link",
        level: 0,
        what: "the host guard: creates a persistent tun device on the host and never deletes it",
        proof: Hostile,
    },
    Fault {
        name: "no-chroot",
        level: 1,
        what: "extracts the image but never chroots",
        proof: Fails(
            1,
            &[
                "L1.chroot.image-root",
                "L1.chroot.host-hidden",
                "L1.chroot.fresh-copy",
                "L1.chroot.under-container-dir",
            ],
        ),
    },
    Fault {
        name: "no-chdir",
        level: 1,
        what: "chroot without chdir(\"/\")",
        proof: Fails(1, &["L1.chroot.cwd"]),
    },
    Fault {
        name: "shared-rootfs",
        level: 1,
        what: "every container uses the same rootfs",
        proof: Fails(1, &["L1.chroot.fresh-copy"]),
    },
    Fault {
        name: "rootfs-elsewhere",
        level: 1,
        what: "the rootfs is in /tmp",
        proof: Fails(1, &["L1.chroot.under-container-dir"]),
    },
    Fault {
        name: "no-unshare",
        level: 2,
        what: "mounts in the runtime's own mount namespace",
        proof: Fails(
            2,
            &[
                "L2.mount-ns.namespace",
                "L2.mount-ns.no-propagation",
                "L2.mount-ns.no-leftovers",
            ],
        ),
    },
    // Without /proc the probe cannot read its mountinfo, so /dev's tmpfs goes unseen too.
    Fault {
        name: "no-proc",
        level: 2,
        what: "does not mount /proc",
        proof: Fails(2, &["L2.mount-ns.proc", "L2.mount-ns.devices"]),
    },
    Fault {
        name: "not-private",
        level: 2,
        what: "forgets to make / private",
        proof: Fails(
            2,
            &["L2.mount-ns.no-propagation", "L2.mount-ns.no-leftovers"],
        ),
    },
    Fault {
        name: "host-dev",
        level: 2,
        what: "bind-mounts the host's /dev",
        proof: Fails(2, &["L2.mount-ns.devices"]),
    },
    Fault {
        name: "file-devices",
        level: 2,
        what: "regular files instead of device nodes",
        proof: Fails(2, &["L2.mount-ns.devices"]),
    },
    Fault {
        name: "chroot-not-pivot",
        level: 2,
        what: "chroot instead of pivot_root",
        proof: Fails(3, &["L3.pivot-root.root-mount", "L3.pivot-root.no-escape"]),
    },
    // The old root still mounted on its directory: that directory is not removed either.
    Fault {
        name: "keep-old-root",
        level: 3,
        what: "does not unmount the old root",
        proof: Fails(
            3,
            &[
                "L3.pivot-root.no-host-mounts",
                "L3.pivot-root.old-root-removed",
            ],
        ),
    },
    Fault {
        name: "keep-old-dir",
        level: 3,
        what: "unmounts the old root but leaves its directory",
        proof: Fails(3, &["L3.pivot-root.old-root-removed"]),
    },
    Fault {
        name: "no-uts",
        level: 4,
        what: "sets the hostname without a UTS namespace",
        proof: Fails(4, &["L4.uts-ns.namespaces", "L4.uts-ns.runtime-hostname"]),
    },
    Fault {
        name: "hostname-before-unshare",
        level: 4,
        what: "sethostname, then unshare",
        proof: Fails(4, &["L4.uts-ns.runtime-hostname"]),
    },
    Fault {
        name: "ignore-hostname-flag",
        level: 4,
        what: "always uses the container id",
        proof: Fails(4, &["L4.uts-ns.hostname"]),
    },
    Fault {
        name: "hostname-fixed",
        level: 4,
        what: "\"container\" instead of the id",
        proof: Fails(4, &["L4.uts-ns.default-hostname"]),
    },
    Fault {
        name: "no-pid-ns",
        level: 5,
        what: "never unshares CLONE_NEWPID",
        proof: Fails(
            5,
            &[
                "L5.pid-ns.namespace",
                "L5.pid-ns.pid-one",
                "L5.pid-ns.proc-lists-container",
                "L5.pid-ns.host-pid-unreachable",
            ],
        ),
    },
    // The host's /proc does not show the probe as its pid 1, whose cmdline L2 reads.
    Fault {
        name: "host-proc",
        level: 5,
        what: "bind-mounts the host's /proc",
        proof: Fails(
            5,
            &[
                "L2.mount-ns.proc",
                "L5.pid-ns.pid-one",
                "L5.pid-ns.proc-lists-container",
            ],
        ),
    },
    Fault {
        name: "no-net-ns",
        level: 6,
        what: "never unshares CLONE_NEWNET",
        proof: Fails(6, &["L6.net-ns.namespace", "L6.net-ns.only-lo"]),
    },
    Fault {
        name: "lo-down",
        level: 6,
        what: "leaves lo down",
        proof: Fails(6, &["L6.net-ns.loopback"]),
    },
    Fault {
        name: "no-overlay",
        level: 6,
        what: "a copy of the image per container, as at level 6",
        proof: Fails(
            7,
            &[
                "L7.overlay.root-is-overlay",
                "L7.overlay.image-untouched",
                "L7.overlay.extracted-once",
                "L7.overlay.no-copy",
            ],
        ),
    },
    // Writing to the shared image also breaks the fresh copy of level 1; without an overlay
    // there is no lower layer to find the image in.
    Fault {
        name: "write-through",
        level: 7,
        what: "bind-mounts the extracted image itself",
        proof: Fails(
            7,
            &[
                "L1.chroot.fresh-copy",
                "L1.chroot.under-container-dir",
                "L7.overlay.root-is-overlay",
                "L7.overlay.image-untouched",
                "L7.overlay.isolated",
                "L7.overlay.extracted-once",
            ],
        ),
    },
    // Leaves its shared upper dir behind, too.
    Fault {
        name: "shared-upper",
        level: 7,
        what: "one upper dir for every container",
        proof: Fails(
            7,
            &[
                "L1.chroot.fresh-copy",
                "L7.overlay.isolated",
                "L7.overlay.cleanup",
            ],
        ),
    },
    Fault {
        name: "extract-each-time",
        level: 7,
        what: "extracts the image again per container",
        proof: Fails(7, &["L7.overlay.extracted-once"]),
    },
    // Leaves the container's directory behind after bad input too.
    Fault {
        name: "keep-container-dir",
        level: 7,
        what: "leaves <container-dir>/<id>/ behind",
        proof: Fails(
            7,
            &[
                "L1.input.missing-image",
                "L1.input.hostile-image",
                "L1.input.bad-tar",
                "L7.overlay.cleanup",
            ],
        ),
    },
    Fault {
        name: "multi-line-usage",
        level: 0,
        what: "parses its command line with clap's own multi-line errors",
        proof: Fails(0, &["L0.input.bad-size"]),
    },
    Fault {
        name: "bad-input-125",
        level: 1,
        what: "exits 125 (setup failed) for bad input",
        proof: Fails(
            1,
            &[
                "L1.input.missing-image",
                "L1.input.hostile-image",
                "L1.input.bad-tar",
            ],
        ),
    },
    Fault {
        name: "keep-dir-on-refusal",
        level: 1,
        what: "leaves <container-dir>/<id>/ behind when the image is refused",
        proof: Fails(
            1,
            &[
                "L1.input.missing-image",
                "L1.input.hostile-image",
                "L1.input.bad-tar",
            ],
        ),
    },
    Fault {
        name: "copy-under-overlay",
        level: 7,
        what: "keeps step 1's copy of the image per container and mounts the overlay over it",
        proof: Fails(7, &["L7.overlay.no-copy"]),
    },
    // Correct runtimes that differ from our solutions where the contract lets them.
    // Correct, though not laid out like our solutions: the lower layer is found where the
    // kernel says it is, and a container without CAP_SYS_ADMIN or CAP_SYS_CHROOT (runc's and
    // Docker's defaults) is judged on its namespaces, by the checker's own mount and escape.
    Fault {
        name: "lower-elsewhere",
        level: 7,
        what: "a correct level-7 runtime whose image lives in a snapshot dir of its own",
        proof: Fails(7, &[]),
    },
    Fault {
        name: "runc-caps",
        level: 7,
        what: "a correct level-7 runtime whose command has runc's default capabilities only",
        proof: Fails(7, &[]),
    },
    // The probe's chroot is refused, so the checker makes the escape itself.
    Fault {
        name: "chroot-no-caps",
        level: 2,
        what: "chroot instead of pivot_root, the command without CAP_SYS_CHROOT",
        proof: Fails(3, &["L3.pivot-root.root-mount", "L3.pivot-root.no-escape"]),
    },
    // Mistakes of a later level that break every run: the first verdict must name the real cause.
    Fault {
        name: "pivot-no-bind",
        level: 3,
        what: "every check, with the runtime's error first: pivot_root onto a directory that is \
            not a mount point",
        proof: FirstVerdict,
    },
    // unshare in the child leaves the command (the child itself) in the runtime's namespace.
    Fault {
        name: "unshare-pid-in-child",
        level: 5,
        what: "unshare(CLONE_NEWPID) in the child, which moves only the child's children",
        proof: Fails(
            5,
            &[
                "L5.pid-ns.namespace",
                "L5.pid-ns.pid-one",
                "L5.pid-ns.proc-lists-container",
                "L5.pid-ns.host-pid-unreachable",
            ],
        ),
    },
    Fault {
        name: "socket-before-unshare",
        level: 6,
        what: "the ioctl socket opened before unshare(CLONE_NEWNET) configures the host's lo",
        proof: Fails(6, &["L6.net-ns.loopback"]),
    },
    Fault {
        name: "no-workdir",
        level: 7,
        what: "every check, with the runtime's error first: mounts the overlay without a workdir \
            (EINVAL)",
        proof: FirstVerdict,
    },
    // The cgroup levels.
    Fault {
        name: "no-cgroup",
        level: 8,
        what: "creates no cgroup at all",
        proof: Fails(
            8,
            &[
                "L8.cpu-cgroup.inside",
                "L8.cpu-cgroup.outside",
                "L8.cpu-cgroup.quota",
                "L8.cpu-cgroup.weight",
                "L8.cpu-cgroup.throttled",
            ],
        ),
    },
    Fault {
        name: "attach-after-exec",
        level: 8,
        what: "the child execs at once; the parent attaches it once the command has written to \
            stdout, which the runtime relays",
        proof: Fails(8, &["L8.cpu-cgroup.inside", "L8.cpu-cgroup.throttled"]),
    },
    // The order of attach and release, made observable: the checker holds the runtime's parent
    // still while its child runs (checker/src/hold.rs), so each is caught in every run.
    Fault {
        name: "child-does-not-wait",
        level: 8,
        what: "the child execs without waiting on the sync pipe; the parent attaches it, then \
            writes the pipe",
        proof: Fails(8, &["L8.cpu-cgroup.inside"]),
    },
    Fault {
        name: "release-then-attach",
        level: 8,
        what: "the parent writes the sync pipe, then the child's pid to cgroup.procs",
        proof: Fails(8, &["L8.cpu-cgroup.inside"]),
    },
    Fault {
        name: "cgroup-left-behind",
        level: 8,
        what: "never removes the container's cgroup",
        proof: Fails(8, &["L8.cpu-cgroup.cleanup"]),
    },
    // Still throttled (harder than asked): the spinning probe passes.
    Fault {
        name: "cpu-period-200ms",
        level: 8,
        what: "--cpus as a quota per 100 ms against a period of 200 ms: 0.5 CPU becomes 0.25",
        proof: Fails(8, &["L8.cpu-cgroup.quota", "L8.cpu-cgroup.throttled"]),
    },
    Fault {
        name: "ignore-cpu-shares",
        level: 8,
        what: "ignores --cpu-shares",
        proof: Fails(8, &["L8.cpu-cgroup.weight"]),
    },
    Fault {
        name: "no-memory-limit",
        level: 9,
        what: "ignores --memory and --memory-swap",
        proof: Fails(
            9,
            &[
                "L9.memory-cgroup.limit",
                "L9.memory-cgroup.swap",
                "L9.memory-cgroup.oom-kill",
                "L9.memory-cgroup.oom-message",
            ],
        ),
    },
    // Too small to start the probe in: every run with a limit is killed before the probe says
    // a word.
    Fault {
        name: "memory-in-kib",
        level: 9,
        what: "--memory read as KiB: 64m becomes a 64 KiB limit",
        proof: Fails(
            9,
            &[
                "L9.memory-cgroup.limit",
                "L9.memory-cgroup.swap",
                "L9.memory-cgroup.under-limit",
                "L9.memory-cgroup.oom-kill",
                "L9.memory-cgroup.oom-message",
                "L9.memory-cgroup.plain-kill",
                "L9.memory-cgroup.cleanup",
            ],
        ),
    },
    Fault {
        name: "bare-137",
        level: 9,
        what: "exits 137 after an OOM kill without saying why",
        proof: Fails(9, &["L9.memory-cgroup.oom-message"]),
    },
    Fault {
        name: "cgroup-left-after-oom",
        level: 9,
        what: "leaves the container's cgroup behind when the command was killed",
        proof: Fails(9, &["L9.memory-cgroup.cleanup"]),
    },
    // Helper h2's faults of levels 8 and 9.
    Fault {
        name: "cpus-tenth",
        level: 8,
        what: "--cpus as a tenth of the quota (0.25 becomes 2500 µs per 100000): the probe is \
            throttled, harder than asked",
        proof: Fails(8, &["L8.cpu-cgroup.quota", "L8.cpu-cgroup.throttled"]),
    },
    // Correct: on v2 it converts --cpu-shares as runc 1.3.2+ and crun 1.23 do (512 gives 59,
    // not 20); on v1 it writes the shares as they are, like every runtime.
    Fault {
        name: "new-weight-formula",
        level: 8,
        what: "a correct runtime converting shares to a v2 weight with runc 1.3.2's curve",
        proof: Fails(8, &[]),
    },
    Fault {
        name: "oom-on-every-137",
        level: 9,
        what: "says \"out of memory\" on every exit 137, without reading the OOM kill counter",
        proof: Fails(9, &["L9.memory-cgroup.plain-kill"]),
    },
    // Only where the kernel accounts swap (memsw / memory.swap.max); elsewhere the check skips.
    Fault {
        name: "no-swap-by-default",
        level: 9,
        what: "--memory without --memory-swap allows no swap (Docker: as much swap as memory)",
        proof: Fails(9, &["L9.memory-cgroup.swap"]),
    },
    Fault {
        name: "swap-below-memory-accepted",
        level: 9,
        what: "accepts --memory-swap below --memory (raised to it) and --memory-swap without \
            --memory (ignored)",
        proof: Fails(9, &["L9.input.memory-swap"]),
    },
    Fault {
        name: "no-pids-limit",
        level: 10,
        what: "ignores --pids-limit",
        proof: Fails(10, &["L10.pids-cgroup.limit", "L10.pids-cgroup.fork-bomb"]),
    },
    Fault {
        name: "pids-after-release",
        level: 10,
        what: "the parent attaches the child and releases it, then writes pids.max",
        proof: Fails(10, &["L10.pids-cgroup.limit"]),
    },
    Fault {
        name: "rmdir-without-kill",
        level: 10,
        what: "removes the cgroup with one rmdir, without killing what is left in it",
        proof: Fails(10, &["L10.pids-cgroup.cleanup"]),
    },
    Fault {
        name: "ignore-user",
        level: 11,
        what: "ignores --user: the command runs as root, with the runtime's groups",
        proof: Fails(
            11,
            &[
                "L11.user.ids",
                "L11.user.groups",
                "L11.user.root-file",
                "L11.user.default-gid",
            ],
        ),
    },
    Fault {
        name: "no-setgroups",
        level: 11,
        what: "setgid and setuid without setgroups: the runtime's supplementary groups stay",
        proof: Fails(11, &["L11.user.groups"]),
    },
    Fault {
        name: "euid-only",
        level: 11,
        what: "setegid and seteuid: real and saved ids stay 0",
        proof: Fails(11, &["L11.user.ids", "L11.user.default-gid"]),
    },
    Fault {
        name: "gid-is-uid",
        level: 11,
        what: "--user UID alone runs with gid UID, not Docker's 0",
        proof: Fails(11, &["L11.user.default-gid"]),
    },
    Fault {
        name: "keep-dac-override",
        level: 11,
        what: "keeps CAP_DAC_OVERRIDE across setuid (PR_SET_KEEPCAPS, then ambient)",
        proof: Fails(11, &["L11.user.root-file"]),
    },
    Fault {
        name: "user-unchecked",
        level: 11,
        what: "does not check --user: 4294967295, (uid_t)-1, fails in setgid (125)",
        proof: Fails(11, &["L11.input.bad-user"]),
    },
    Fault {
        name: "no-cap-drop",
        level: 12,
        what: "keeps every capability, and sets no no_new_privs",
        proof: Fails(
            12,
            &[
                "L12.capabilities.bounding",
                "L12.capabilities.sets",
                "L12.capabilities.inheritable",
                "L12.capabilities.no-new-privs",
                "L12.capabilities.denied",
                "L12.capabilities.non-root",
            ],
        ),
    },
    Fault {
        name: "bounding-only",
        level: 12,
        what: "drops the bounding set and sets no_new_privs, nothing else: exec gives root the \
            runtime's inheritable CAP_NET_ADMIN too, and the ambient set stays",
        proof: Fails(
            12,
            &["L12.capabilities.sets", "L12.capabilities.inheritable"],
        ),
    },
    Fault {
        name: "keep-inheritable",
        level: 12,
        what: "capset keeps the inheritable set it found, and the ambient set is not cleared",
        proof: Fails(12, &["L12.capabilities.inheritable"]),
    },
    Fault {
        name: "no-no-new-privs",
        level: 12,
        what: "Docker's capabilities, without no_new_privs",
        proof: Fails(12, &["L12.capabilities.no-new-privs"]),
    },
    Fault {
        name: "too-few-caps",
        level: 12,
        what: "Docker's set without CAP_CHOWN and CAP_NET_BIND_SERVICE",
        proof: Fails(
            12,
            &[
                "L12.capabilities.bounding",
                "L12.capabilities.sets",
                "L12.capabilities.allowed",
                "L12.capabilities.non-root",
            ],
        ),
    },
    Fault {
        name: "drop-after-setuid",
        level: 12,
        what: "drops the capabilities after setuid: with --user, PR_CAPBSET_DROP is refused and \
            nothing runs",
        proof: Fails(
            12,
            &[
                "L11.user.ids",
                "L11.user.groups",
                "L11.user.root-file",
                "L11.user.default-gid",
                "L12.capabilities.non-root",
            ],
        ),
    },
    // Hostile runtimes of the cgroup levels: the host guard's verdicts on --cgroup-parent.
    Fault {
        name: "ignores-cgroup-parent",
        level: 0,
        what: "the host guard: makes its container's group at rubber-crab/<id> (the default \
            parent, outside the checker's cage), joins it, and removes nothing",
        proof: Hostile,
    },
    Fault {
        name: "leaves-group-with-process",
        level: 0,
        what: "the host guard: makes <cgroup-parent>/<id>, puts a sleep that outlives it in it, \
            and exits",
        proof: Hostile,
    },
    Fault {
        name: "v2-paths-on-v1",
        level: 0,
        what: "the host guard, where /sys/fs/cgroup is a tmpfs (v1, hybrid): writes \
            /sys/fs/cgroup/<cgroup-parent>/<id>/cpu.max and cgroup.procs as on v2, plain files \
            on the tmpfs; does nothing on a v2 host",
        proof: Hostile,
    },
    Fault {
        name: "limit-on-parent",
        level: 0,
        what: "the host guard: writes its memory and pids limits to <cgroup-parent> itself, not \
            to <cgroup-parent>/<id>",
        proof: Hostile,
    },
    // A correct runtime written elsewhere whose command line has only its level's options (the
    // runtime contract): the checker passes an option only from the level that introduces it.
    Fault {
        name: "strict-cli",
        level: 3,
        what: "a correct level-3 runtime that refuses, as an unknown option (exit 2), every \
            option of a later level: --hostname, --cgroup-parent, --cpus, --memory...",
        proof: Fails(3, &[]),
    },
    Fault {
        name: "strict-cli-8",
        level: 8,
        what: "a correct level-8 runtime that refuses, as an unknown option (exit 2), the options \
            of levels 9 and 10: --memory, --memory-swap, --pids-limit",
        proof: Fails(8, &[]),
    },
    Fault {
        name: "ptmxmode-000",
        level: 2,
        what: "mounts devpts with ptmxmode=000: root opens /dev/ptmx, a user (docker run -it \
            --user 1000) cannot",
        proof: Fails(2, &["L2.mount-ns.pty"]),
    },
    // The kernel only warns ("overlayfs: workdir is in-use by another mount") and mounts the
    // second container anyway; the shared dir is left behind, too.
    Fault {
        name: "shared-workdir",
        level: 7,
        what: "one overlay workdir for every container (each has its own upper dir)",
        proof: Fails(7, &["L7.overlay.isolated", "L7.overlay.cleanup"]),
    },
    // Bad input the kit refuses (kit::cli::validate, kit::image::survey), forgotten one at a time.
    Fault {
        name: "image-path-accepted",
        level: 1,
        what: "takes --image ../x or /abs/x as a path when that tar exists, and extracts it",
        proof: Fails(1, &["L1.input.image-name"]),
    },
    Fault {
        name: "empty-image-accepted",
        level: 1,
        what: "takes an empty file as an image with no files (the command is then not found: 127)",
        proof: Fails(1, &["L1.input.bad-tar"]),
    },
    Fault {
        name: "contradiction-125",
        level: 1,
        what: "reports a tar whose members contradict each other (a symlink over a directory) as \
            its own failure, 125, not as bad input",
        proof: Fails(1, &["L1.input.bad-tar"]),
    },
    Fault {
        name: "hostname-unchecked",
        level: 4,
        what: "does not check --hostname: 300 bytes fail in sethostname (125), a newline is set",
        proof: Fails(4, &["L4.input.bad-hostname"]),
    },
    Fault {
        name: "cpus-unchecked",
        level: 8,
        what: "does not check --cpus: 0.0001 is a quota the kernel refuses (125)",
        proof: Fails(8, &["L8.input.bad-cpus"]),
    },
    Fault {
        name: "cgroup-parent-unchecked",
        level: 8,
        what: "does not check --cgroup-parent: a newline fails in mkdir (125)",
        proof: Fails(8, &["L8.input.bad-cgroup-parent"]),
    },
    Fault {
        name: "memory-unchecked",
        level: 9,
        what: "does not check --memory: 1 byte runs, and the command is OOM-killed (137)",
        proof: Fails(9, &["L9.input.small-memory"]),
    },
    Fault {
        name: "pids-limit-unchecked",
        level: 10,
        what: "does not check --pids-limit: 4194305 is refused by pids.max (125)",
        proof: Fails(10, &["L10.input.bad-pids-limit"]),
    },
    // Level 13: the cable (checker/broken/src/veth.rs does it with `ip`).
    Fault {
        name: "veth-correct",
        level: 13,
        what: "a correct level-13 runtime: its cable made with ip(8), host end vb<id>, the \
            container's end moved in by a helper that setns'd into the host's namespace",
        proof: Fails(13, &[]),
    },
    Fault {
        name: "eth0-down",
        level: 13,
        what: "never brings eth0 up (so no route can go through it either)",
        proof: Fails(
            13,
            &["L13.veth.address", "L13.veth.route", "L13.veth.reachable"],
        ),
    },
    Fault {
        name: "no-default-route",
        level: 13,
        what: "adds no default route inside",
        proof: Fails(13, &["L13.veth.route"]),
    },
    Fault {
        name: "host-end-down",
        level: 13,
        what: "addresses the host's end but never brings it up",
        proof: Fails(13, &["L13.veth.reachable"]),
    },
    Fault {
        name: "host-end-kept",
        level: 13,
        what:
            "never deletes the host's end: the pair goes only when the container's namespace does",
        proof: Fails(13, &["L13.veth.unplugged"]),
    },
    Fault {
        name: "fixed-default-ip",
        level: 13,
        what: "without --ip, every container gets 10.13.0.2",
        proof: Fails(13, &["L13.veth.default-address"]),
    },
    Fault {
        name: "ip-ignored",
        level: 13,
        what: "ignores --ip: every container gets a default address",
        proof: Fails(13, &["L13.veth.address"]),
    },
    Fault {
        name: "ip-unchecked",
        level: 13,
        what: "does not check --ip: 10.13.0.0 and 10.14.0.7 are given to eth0",
        proof: Fails(13, &["L13.input.bad-ip"]),
    },
    // Hostile runtimes that try to outlive or outgrow the run (checker/tests/hostile.rs).
    Fault {
        name: "escape-cage",
        level: 0,
        what: "the host guard: starts 8 `sleep`s in sessions of their own and moves each to the \
            root group (writes its pid to the root cgroup.procs of each hierarchy), then runs \
            the command",
        proof: Hostile,
    },
    Fault {
        name: "raise-cage-limits",
        level: 0,
        what: "the host guard: raises the checker's cage's own limits (pids.max=max, memory \
            and memory+swap unlimited on the parent of --cgroup-parent), then runs the command",
        proof: Hostile,
    },
];
