//! The doctor's reasoning on fixtures: layouts parsed from mountinfo lines (as in cgroups.rs'
//! tests), plain files standing in for cgroupfs, and hand-made facts. No root, no probes.

use super::*;
use kit::ladder::Level;

fn layout(mountinfo: &str) -> Layout {
    Layout::from_mounts(&crate::mounts::parse(mountinfo))
}

const V1: &str = "\
31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";

/// A v2 tree mounted at a temp dir whose root offers `offered` and hands out `enabled`.
fn v2_tree(offered: &str, enabled: &str) -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("cgroup.controllers"), offered).unwrap();
    std::fs::write(root.path().join("cgroup.subtree_control"), enabled).unwrap();
    let line = format!(
        "40 22 0:26 / {} rw - cgroup2 cgroup2 rw,nsdelegate\n",
        root.path().display()
    );
    (root, line)
}

fn missing_says(placement: Placement, words: &[&str]) {
    let Placement::Missing(what) = placement else {
        panic!("not missing: {placement:?}");
    };
    for word in words {
        assert!(what.contains(word), "{what:?} lacks {word:?}");
    }
}

#[test]
fn v1_controllers_are_found_in_their_hierarchy_and_a_missing_one_is_mounted() {
    let l = layout(V1);
    assert_eq!(
        placement(&l, "cpu"),
        Placement::V1("/sys/fs/cgroup/cpu,cpuacct".into())
    );
    assert_eq!(
        placement(&l, "memory"),
        Placement::V1("/sys/fs/cgroup/memory".into())
    );
    missing_says(
        placement(&l, "pids"),
        &[
            "no v1 hierarchy",
            "mount -t cgroup -o pids cgroup /sys/fs/cgroup/pids",
        ],
    );
}

#[test]
fn v2_says_whether_the_root_hands_a_controller_out_or_offers_it_at_all() {
    let (root, line) = v2_tree("cpuset cpu io memory\n", "memory\n");
    let l = layout(&line);
    assert_eq!(l.kind(), "v2");
    assert_eq!(
        placement(&l, "memory"),
        Placement::V2 {
            root: root.path().into(),
            enabled: true
        }
    );
    assert_eq!(
        placement(&l, "cpu"),
        Placement::V2 {
            root: root.path().into(),
            enabled: false
        }
    );
    missing_says(
        placement(&l, "pids"),
        &["does not offer", "cgroup_enable=pids"],
    );
    let facts = v2_root(&l).unwrap();
    assert_eq!(facts.controllers, ["cpuset", "cpu", "io", "memory"]);
    assert_eq!(facts.subtree_control, ["memory"]);
}

#[test]
fn hybrid_takes_v1_hierarchies_first_and_the_v2_tree_only_for_what_it_offers() {
    // As on this workshop's machine: the v2 tree beside v1 holds next to nothing.
    let (_root, line) = v2_tree("hugetlb\n", "");
    let l = layout(&format!("{V1}{line}"));
    assert_eq!(l.kind(), "hybrid");
    assert!(matches!(placement(&l, "memory"), Placement::V1(_)));
    missing_says(
        placement(&l, "pids"),
        &["mount one", "systemd.unified_cgroup_hierarchy=1"],
    );
    let tree = v2_root(&l).unwrap();
    assert_eq!(
        (tree.controllers, tree.subtree_control),
        (vec!["hugetlb".to_string()], vec![])
    );
    assert!(v2_root(&layout(V1)).is_none());
    let (root, line) = v2_tree("pids\n", "pids\n");
    let l = layout(&format!("{V1}{line}"));
    assert_eq!(
        placement(&l, "pids"),
        Placement::V2 {
            root: root.path().into(),
            enabled: true
        }
    );
}

#[test]
fn no_cgroup_filesystem_says_to_mount_the_v2_tree() {
    let l = layout("");
    assert_eq!(l.kind(), "none");
    missing_says(placement(&l, "cpu"), &["mount -t cgroup2"]);
}

#[test]
fn a_containers_root_with_processes_cannot_enable_controllers_the_real_root_can() {
    let (root, _) = v2_tree("cpu\n", "");
    std::fs::write(root.path().join("cgroup.procs"), "1\n42\n").unwrap();
    assert!(
        cannot_enable(root.path()).is_none(),
        "the real root is exempt"
    );
    std::fs::write(root.path().join("cgroup.type"), "domain\n").unwrap();
    let why = cannot_enable(root.path()).unwrap();
    assert!(why.contains("container's group with processes"), "{why}");
    std::fs::write(root.path().join("cgroup.procs"), "").unwrap();
    assert!(cannot_enable(root.path()).is_none(), "an empty one can");
}

#[test]
fn limits_are_written_as_the_checks_ask_and_swap_only_where_it_is_accounted() {
    let dir = tempfile::tempdir().unwrap();
    let (written, swap) = write_limits(dir.path(), false, "memory").unwrap();
    assert_eq!(written, ["memory.limit_in_bytes 67108864"]);
    assert_eq!(swap, None);
    std::fs::write(dir.path().join("memory.memsw.limit_in_bytes"), "").unwrap();
    let (written, swap) = write_limits(dir.path(), false, "memory").unwrap();
    assert_eq!(written.len(), 2);
    assert_eq!(swap, Some("memory.memsw.limit_in_bytes"));
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    assert_eq!(read("memory.memsw.limit_in_bytes"), "67108864");
    write_limits(dir.path(), true, "cpu").unwrap();
    assert_eq!(read("cpu.max"), "50000 100000");
    assert_eq!(read("cpu.weight"), "20");
    write_limits(dir.path(), false, "cpu").unwrap();
    assert_eq!(read("cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu.shares"), "512");
    write_limits(dir.path(), true, "pids").unwrap();
    assert_eq!(read("pids.max"), "20");
    let gone = dir.path().join("gone");
    let err = write_limits(&gone, true, "pids").unwrap_err();
    assert!(format!("{err:#}").contains("writing 20 to"), "{err:#}");
}

#[test]
fn unaccounted_swap_matters_only_when_swap_is_on() {
    assert!(swap_accounting(Some(Some("memory.swap.max")), true).ok);
    assert!(swap_accounting(Some(None), false).ok);
    let on = swap_accounting(Some(None), true);
    assert!(!on.ok && on.detail.contains("swapoff -a"), "{on:?}");
    assert!(swap_accounting(None, false).ok);
    assert!(!swap_accounting(None, true).ok);
}

fn ok(name: &str) -> Probe {
    Probe::new(name, true, "fine")
}

fn controller(name: &'static str, ok: bool) -> ControllerFacts {
    ControllerFacts {
        name,
        version: Some("v1"),
        hierarchy: Some(format!("/sys/fs/cgroup/{name}")),
        delegated: true,
        ok,
        detail: if ok {
            "fine"
        } else {
            "no memory here: do this"
        }
        .into(),
    }
}

/// A machine where everything worked.
fn healthy() -> Facts {
    Facts {
        cgroups: CgroupFacts {
            layout: "v1",
            v2_root: None,
            controllers: CONTROLLERS.iter().map(|&c| controller(c, true)).collect(),
            swap_accounting: ok("swap accounting"),
        },
        namespaces: NAMESPACES
            .iter()
            .map(|(n, _)| ok(&format!("{n} namespace")))
            .collect(),
        user_namespaces: ok("user namespaces"),
        overlayfs: ok("overlayfs"),
        user: ok("user"),
        capabilities: ok("capabilities"),
        veth: ok("veth"),
    }
}

/// Levels 0 to 10 as issue 11 adds them (the ladder may not have 8 to 10 yet).
fn ladder() -> Vec<Level> {
    let titles = [
        "fork, exec and wait",
        "chroot",
        "mount ns",
        "pivot_root",
        "uts",
        "pid",
        "net",
        "overlay",
        "cpu",
        "memory",
        "pids",
    ];
    titles
        .iter()
        .zip(0..)
        .map(|(&title, number)| Level {
            number,
            dir: "NN-level",
            title,
        })
        .collect()
}

#[test]
fn a_healthy_machine_runs_every_level_and_exits_0() {
    let diagnosis = Diagnosis::of(healthy(), &ladder());
    assert_eq!(diagnosis.exit_code, exit::PASSED);
    assert_eq!(diagnosis.result, "ready");
    assert!(diagnosis.levels.iter().all(|l| l.runs && l.why.is_none()));
    colored::control::set_override(false);
    assert!(diagnosis.human().contains("Every level can run here."));
}

#[test]
fn a_missing_piece_stops_its_level_and_every_level_above_it_with_what_to_do() {
    let mut facts = healthy();
    facts.cgroups.controllers[1] = controller("memory", false);
    let diagnosis = Diagnosis::of(facts, &ladder());
    assert_eq!(diagnosis.exit_code, exit::ENVIRONMENT);
    assert_eq!(diagnosis.result, "not ready");
    let runs: Vec<bool> = diagnosis.levels.iter().map(|l| l.runs).collect();
    assert_eq!(
        runs,
        [true, true, true, true, true, true, true, true, true, false, false]
    );
    let why = diagnosis.levels[10].why.as_deref().unwrap();
    assert_eq!(why, "the memory controller: no memory here: do this");
    colored::control::set_override(false);
    let human = diagnosis.human();
    assert!(human.contains("✗ level9"), "{human}");
    assert!(human.contains(&format!("      {why}")), "{human}");
    assert!(human.contains("2 of 11 levels cannot run here"), "{human}");
}

#[test]
fn each_level_needs_its_own_mechanism() {
    let blocked_from = |break_it: fn(&mut Facts)| {
        let mut facts = healthy();
        break_it(&mut facts);
        ladder()
            .iter()
            .find(|l| !facts.verdict(l).runs)
            .map(|l| l.number)
    };
    assert_eq!(blocked_from(|f| f.namespaces[0].ok = false), Some(2));
    assert_eq!(blocked_from(|f| f.namespaces[1].ok = false), Some(4));
    assert_eq!(blocked_from(|f| f.namespaces[3].ok = false), Some(5));
    assert_eq!(blocked_from(|f| f.namespaces[4].ok = false), Some(6));
    assert_eq!(blocked_from(|f| f.overlayfs.ok = false), Some(7));
    assert_eq!(
        blocked_from(|f| f.cgroups.controllers[0].ok = false),
        Some(8)
    );
    assert_eq!(
        blocked_from(|f| f.cgroups.swap_accounting.ok = false),
        Some(9)
    );
    assert_eq!(
        blocked_from(|f| f.cgroups.controllers[2].ok = false),
        Some(10)
    );
    assert_eq!(
        blocked_from(|f| f.veth.ok = false),
        None,
        "no veth level yet"
    );
    assert_eq!(blocked_from(|f| f.user_namespaces.ok = false), None);
}

#[test]
fn rootless_needs_user_namespaces_and_stops_at_the_cgroup_levels() {
    let rootless = |facts: &Facts| -> Vec<u32> {
        ladder()
            .iter()
            .filter(|l| facts.verdict(l).rootless)
            .map(|l| l.number)
            .collect()
    };
    let mut facts = healthy();
    let expected: Vec<u32> = (0..=7)
        .filter(|&n| crate::rootless::blocker(n).is_none())
        .collect();
    assert_eq!(rootless(&facts), expected);
    facts.user_namespaces.ok = false;
    assert!(rootless(&facts).is_empty());
}

#[test]
fn the_cage_is_what_the_memory_and_pids_controllers_allow() {
    let with = |memory, pids| {
        cage(&[
            controller("cpu", true),
            controller("memory", memory),
            controller("pids", pids),
        ])
    };
    assert_eq!(with(true, true), "memory 512 MiB, 512 processes, per run");
    assert_eq!(with(false, true), "512 processes, per run");
    assert!(with(false, false).starts_with("none"));
}

#[test]
fn the_layout_reads_in_one_line() {
    let hybrid = [
        "cpu /sys/fs/cgroup/cpu".to_string(),
        "name=systemd /sys/fs/cgroup/systemd".to_string(),
        "unified /sys/fs/cgroup/unified".to_string(),
    ];
    assert_eq!(
        layout_line("hybrid", &hybrid),
        "hybrid: v1 cpu, name=systemd; v2 /sys/fs/cgroup/unified"
    );
    assert_eq!(
        layout_line("v2", &["unified /sys/fs/cgroup".to_string()]),
        "v2: v2 /sys/fs/cgroup"
    );
    assert_eq!(layout_line("none", &[]), "none");
}

#[test]
fn a_v2_scratch_group_gets_the_controller_from_each_group_above_it_never_from_the_root() {
    // Plain files stand in for cgroupfs: a write replaces what the file listed.
    let (root, _) = v2_tree("cpu memory pids\n", "cpu\n");
    let scratch = Scratch::create(root.path(), true, "cpu").unwrap();
    let control = |dir: &Path| std::fs::read_to_string(dir.join("cgroup.subtree_control")).ok();
    let parent = scratch.doctor.parent().unwrap().to_path_buf();
    assert_eq!(scratch.made_parent.as_deref(), Some(parent.as_path()));
    assert_eq!(
        control(root.path()).as_deref(),
        Some("cpu\n"),
        "the root is only read"
    );
    assert_eq!(control(&parent).as_deref(), Some("+cpu"));
    assert_eq!(control(&scratch.doctor).as_deref(), Some("+cpu"));
    assert!(scratch.container.is_dir());
    assert_eq!(control(&scratch.container), None, "the container is a leaf");
    assert!(scratch
        .doctor
        .ends_with(format!("rubber-crab-checker/doctor-{}", std::process::id())));
}

#[test]
fn levels_11_and_12_need_a_user_switch_and_capabilities() {
    let level = |number| Level {
        number,
        dir: "NN-level",
        title: "t",
    };
    let mut facts = healthy();
    facts.user.ok = false;
    assert!(facts.verdict(&level(10)).runs);
    assert!(!facts.verdict(&level(11)).runs && !facts.verdict(&level(12)).runs);
    let mut facts = healthy();
    facts.capabilities.ok = false;
    assert!(facts.verdict(&level(11)).runs);
    let twelve = facts.verdict(&level(12));
    assert!(!twelve.runs && twelve.why.is_some_and(|w| w.starts_with("capabilities: ")));
}
