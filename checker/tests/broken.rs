//! Each check catches the mistake it exists for: a runtime broken in exactly one way fails
//! exactly the checks listed here and passes every other one.

mod common;
use common::*;

/// (fault, level checked, the checks that must fail). See checker/broken/src/main.rs.
const CASES: &[(&str, u32, &[&str])] = &[
    ("correct", 7, &[]),
    (
        "mixed-streams",
        0,
        &["L0.fork-exec.output", "L0.fork-exec.missing-command"],
    ),
    (
        "exit-zero",
        0,
        &[
            "L0.fork-exec.exit-code",
            "L0.fork-exec.signal",
            "L0.fork-exec.waits",
            "L0.fork-exec.missing-command",
        ],
    ),
    ("signal-number", 0, &["L0.fork-exec.signal"]),
    ("joined-argv", 0, &["L0.fork-exec.argv"]),
    (
        "no-wait",
        0,
        &[
            "L0.fork-exec.exit-code",
            "L0.fork-exec.signal",
            "L0.fork-exec.waits",
            "L0.fork-exec.child",
            "L0.fork-exec.missing-command",
        ],
    ),
    // Once the runtime has become the command, nothing is left to turn a signal into 128+N.
    (
        "exec-without-fork",
        0,
        &["L0.fork-exec.signal", "L0.fork-exec.child"],
    ),
    ("panic-on-missing", 0, &["L0.fork-exec.missing-command"]),
    (
        "no-chroot",
        1,
        &[
            "L1.chroot.image-root",
            "L1.chroot.host-hidden",
            "L1.chroot.fresh-copy",
            "L1.chroot.under-container-dir",
        ],
    ),
    ("no-chdir", 1, &["L1.chroot.cwd"]),
    ("shared-rootfs", 1, &["L1.chroot.fresh-copy"]),
    ("rootfs-elsewhere", 1, &["L1.chroot.under-container-dir"]),
    (
        "no-unshare",
        2,
        &[
            "L2.mount-ns.namespace",
            "L2.mount-ns.no-propagation",
            "L2.mount-ns.no-leftovers",
        ],
    ),
    // Without /proc the probe cannot read its mountinfo, so /dev's tmpfs goes unseen too.
    ("no-proc", 2, &["L2.mount-ns.proc", "L2.mount-ns.devices"]),
    (
        "not-private",
        2,
        &["L2.mount-ns.no-propagation", "L2.mount-ns.no-leftovers"],
    ),
    ("host-dev", 2, &["L2.mount-ns.devices"]),
    ("file-devices", 2, &["L2.mount-ns.devices"]),
    (
        "chroot-not-pivot",
        3,
        &["L3.pivot-root.root-mount", "L3.pivot-root.no-escape"],
    ),
    // The old root still mounted on its directory: that directory is not removed either.
    (
        "keep-old-root",
        3,
        &[
            "L3.pivot-root.no-host-mounts",
            "L3.pivot-root.old-root-removed",
        ],
    ),
    ("keep-old-dir", 3, &["L3.pivot-root.old-root-removed"]),
    (
        "no-uts",
        4,
        &["L4.uts-ns.namespaces", "L4.uts-ns.runtime-hostname"],
    ),
    (
        "hostname-before-unshare",
        4,
        &["L4.uts-ns.runtime-hostname"],
    ),
    ("ignore-hostname-flag", 4, &["L4.uts-ns.hostname"]),
    ("hostname-fixed", 4, &["L4.uts-ns.default-hostname"]),
    (
        "no-pid-ns",
        5,
        &[
            "L5.pid-ns.namespace",
            "L5.pid-ns.pid-one",
            "L5.pid-ns.proc-lists-container",
            "L5.pid-ns.host-pid-unreachable",
        ],
    ),
    // The host's /proc does not show the probe as its pid 1, whose cmdline L2 reads.
    (
        "host-proc",
        5,
        &[
            "L2.mount-ns.proc",
            "L5.pid-ns.pid-one",
            "L5.pid-ns.proc-lists-container",
        ],
    ),
    (
        "no-net-ns",
        6,
        &["L6.net-ns.namespace", "L6.net-ns.only-lo"],
    ),
    // unshare in the child leaves the command (the child itself) in the runtime's namespace.
    (
        "unshare-pid-in-child",
        5,
        &[
            "L5.pid-ns.namespace",
            "L5.pid-ns.pid-one",
            "L5.pid-ns.proc-lists-container",
            "L5.pid-ns.host-pid-unreachable",
        ],
    ),
    ("lo-down", 6, &["L6.net-ns.loopback"]),
    ("socket-before-unshare", 6, &["L6.net-ns.loopback"]),
    (
        "no-overlay",
        7,
        &[
            "L7.overlay.root-is-overlay",
            "L7.overlay.image-untouched",
            "L7.overlay.extracted-once",
            "L7.overlay.no-copy",
        ],
    ),
    // Writing to the shared image also breaks the fresh copy of level 1; without an overlay
    // there is no lower layer to find the image in.
    (
        "write-through",
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
    // Leaves its shared upper dir behind, too.
    (
        "shared-upper",
        7,
        &[
            "L1.chroot.fresh-copy",
            "L7.overlay.isolated",
            "L7.overlay.cleanup",
        ],
    ),
    ("extract-each-time", 7, &["L7.overlay.extracted-once"]),
    // Leaves the container's directory behind after bad input too.
    (
        "keep-container-dir",
        7,
        &[
            "L1.input.missing-image",
            "L1.input.hostile-image",
            "L7.overlay.cleanup",
        ],
    ),
    ("multi-line-usage", 0, &["L0.input.bad-size"]),
    (
        "bad-input-125",
        1,
        &["L1.input.missing-image", "L1.input.hostile-image"],
    ),
    (
        "keep-dir-on-refusal",
        1,
        &["L1.input.missing-image", "L1.input.hostile-image"],
    ),
    ("copy-under-overlay", 7, &["L7.overlay.no-copy"]),
    // Correct, though not laid out like our solutions: the lower layer is found where the
    // kernel says it is, and a container without CAP_SYS_ADMIN or CAP_SYS_CHROOT (runc's and
    // Docker's defaults) is judged on its namespaces, by the checker's own mount and escape.
    ("lower-elsewhere", 7, &[]),
    ("runc-caps", 7, &[]),
    // The probe's chroot is refused, so the checker makes the escape itself.
    (
        "chroot-no-caps",
        3,
        &["L3.pivot-root.root-mount", "L3.pivot-root.no-escape"],
    ),
];

/// Checks whose verdict on a fault depends on timing, left out of the comparison for that fault:
/// a runtime that does not wait still passes them when the command happens to finish before the
/// runtime exits. (`L0.fork-exec.waits` gives the command 400 ms, so it always catches it.)
const TIMING_DEPENDENT: &[(&str, &[&str])] =
    &[("no-wait", &["L0.fork-exec.output", "L0.fork-exec.argv"])];

#[test]
fn each_broken_runtime_fails_exactly_its_checks() {
    if !root_or_skip("each_broken_runtime_fails_exactly_its_checks") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    for (fault, level, expected) in CASES {
        let runtime = broken(fault, dir.path());
        let runtime = runtime.to_str().unwrap();
        let out = checker(&[
            &format!("level{level}"),
            "--keep-going",
            "--runtime",
            runtime,
            "--format",
            "json",
        ]);
        let racy: &[&str] = TIMING_DEPENDENT
            .iter()
            .find(|(f, _)| f == fault)
            .map_or(&[], |(_, ids)| ids);
        let failed: Vec<String> = statuses(&stdout(&out))
            .into_iter()
            .filter(|(id, s)| s != "pass" && !racy.contains(&id.as_str()))
            .map(|(id, s)| format!("{id}:{s}"))
            .collect();
        let wanted: Vec<String> = expected.iter().map(|id| format!("{id}:fail")).collect();
        if failed != wanted {
            mismatches.push(format!("{fault}: expected {wanted:?}, got {failed:?}"));
        }
        let code = out.status.code();
        assert_eq!(
            code,
            Some(if expected.is_empty() { 0 } else { 1 }),
            "{fault}: exit code"
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_check_has_a_broken_runtime_that_fails_it() {
    let caught: Vec<&str> = CASES
        .iter()
        .flat_map(|(_, _, ids)| ids.iter().copied())
        .collect();
    for level in 0..=7 {
        for check in checker::levels::checks(level) {
            assert!(
                caught.contains(&check.id),
                "no broken runtime proves {} can fail",
                check.id
            );
        }
    }
}
