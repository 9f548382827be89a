//! More bad input, each at the level that introduces it: an image name that leaves the image
//! dir, a file that is not a tar or whose members contradict each other (level 1), and values
//! out of range for a flag (--hostname at 4, --cpus and --cgroup-parent at 8, --memory at 9,
//! --pids-limit at 10). The contract is the same as input.rs's: exit 2, one line on stderr,
//! nothing left behind, before anything runs.

use super::input::{leftovers, refused, run_image, write_tar, Member, CONTRACT};
use crate::check::{Check, Ctx, Verdict};
use crate::run::{self, Run};
use anyhow::{Context, Result};
use probe::{Report, REPORT};

pub const IMAGE_NAME: Check = Check {
    id: "L1.input.image-name",
    level: 1,
    title: "an image name with a path (../x, /abs/x) is refused even when that tar exists: exit 2, nothing extracted, nothing left",
    hint: "An image is <image-dir>/NAME.tar with NAME a plain name: check the name before anything else, even when the tar is there (kit::image::locate and kit::main do). A path would put the extracted copy outside the image dir.",
    doc: CONTRACT,
    run: image_name_is_checked_first,
};

pub const BAD_TAR: Check = Check {
    id: "L1.input.bad-tar",
    level: 1,
    title: "an image that is not a tar (empty, garbage, truncated) or whose members contradict each other (a symlink over a directory) exits 2, nothing left",
    hint: "Read the whole tar before extracting (kit::image::survey): an empty file is not an empty image, and tar's read errors and contradicting members are the image's fault, exit 2, not the runtime's (125).",
    doc: "https://man7.org/linux/man-pages/man5/tar.5.html",
    run: bad_tar_is_refused,
};

pub const BAD_HOSTNAME: Check = Check {
    id: "L4.input.bad-hostname",
    level: 4,
    title: "a --hostname longer than 64 bytes or with a newline exits 2 with one line, nothing left",
    hint: "Check --hostname before creating anything: at most 64 bytes (HOST_NAME_MAX), no control characters (kit::cli::check_hostname). sethostname(2) would refuse a long one only after the container dir exists, and accepts a newline.",
    doc: "https://man7.org/linux/man-pages/man2/sethostname.2.html",
    run: bad_hostname_is_refused,
};

pub const BAD_CPUS: Check = Check {
    id: "L8.input.bad-cpus",
    level: 8,
    title: "--cpus below 0.01 or above the host's CPUs exits 2 with one line, nothing left",
    hint: "Docker accepts --cpus from 0.01 to the number of CPUs: check it before forking (kit::cli::check_cpus); the kernel refuses a quota under 1 ms only once the container exists.",
    doc: "https://docs.docker.com/engine/containers/resource_constraints/#cpu",
    run: bad_cpus_are_refused,
};

pub const BAD_CGROUP_PARENT: Check = Check {
    id: "L8.input.bad-cgroup-parent",
    level: 8,
    title: "a --cgroup-parent with a newline or a `..` exits 2 with one line, no group made",
    hint: "Check --cgroup-parent before making groups (kit::cli::check_cgroup_parent): no control characters, no `..` component (it leaves the tree, or the cage the caller gave). A leading / means the hierarchy's root, as in Docker.",
    doc: "https://man7.org/linux/man-pages/man7/cgroups.7.html",
    run: bad_cgroup_parent_is_refused,
};

pub const SMALL_MEMORY: Check = Check {
    id: "L9.input.small-memory",
    level: 9,
    title: "--memory below Docker's 6 MiB exits 2 with one line, nothing runs",
    hint: "Refuse --memory below 6 MiB before forking (kit::cli::check_memory), as Docker does: the command would be OOM-killed before it starts.",
    doc: "https://docs.docker.com/engine/containers/resource_constraints/#limit-a-containers-access-to-memory",
    run: small_memory_is_refused,
};

pub const BAD_PIDS_LIMIT: Check = Check {
    id: "L10.input.bad-pids-limit",
    level: 10,
    title: "--pids-limit above pid_max's ceiling (4194304) exits 2 with one line, nothing left",
    hint: "pids.max can hold at most 4194304 (PID_MAX_LIMIT): check --pids-limit before forking (kit::cli::check_pids_limit).",
    doc: "https://docs.kernel.org/admin-guide/cgroup-v2.html#pid",
    run: bad_pids_limit_is_refused,
};

pub const BAD_USER: Check = Check {
    id: "L11.input.bad-user",
    level: 11,
    title: "a --user that is not UID[:GID] with ids below 4294967295 exits 2 with one line, nothing left",
    hint: "Numbers only, and never 4294967295, (uid_t)-1, which setuid and setgid read as \"leave unchanged\": refuse it before anything is made, with one line and exit 2 (kit::cli::check_user).",
    doc: "https://man7.org/linux/man-pages/man2/setuid.2.html",
    run: bad_user_is_refused,
};

fn image_name_is_checked_first(ctx: &mut Ctx) -> Result<Verdict> {
    // The test image's tar, copied beside the check's image dir: `../<name>` finds it.
    let scratch = ctx
        .image_dir
        .parent()
        .context("the check's image dir has a parent")?
        .to_path_buf();
    let name = "outside-image";
    let tar = kit::image::tar_path(&scratch, name);
    let shared = kit::image::tar_path(&ctx.env.image_dir, &ctx.env.image);
    if std::fs::hard_link(&shared, &tar).is_err() {
        std::fs::copy(&shared, &tar)?;
    }
    let absolute = scratch.join(name);
    let names = [format!("../{name}"), crate::text::path_str(&absolute)];
    for image in names {
        let before = leftovers(ctx);
        let run = run_image(ctx, &image)?;
        // Extracted where the name points: `<scratch>/outside-image/`.
        let verdict = refused(&run, ctx, &before, std::slice::from_ref(&absolute))?;
        if verdict != Verdict::Pass {
            let _ = kit::container::remove_dir_on_one_filesystem(&absolute);
            return Ok(with(verdict, &format!("--image {image}")));
        }
    }
    Ok(Verdict::Pass)
}

fn bad_tar_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    use tar::EntryType::{Directory, Regular, Symlink};
    let shared = std::fs::read(kit::image::tar_path(&ctx.env.image_dir, &ctx.env.image))?;
    let truncated = shared[..middle_of_first_file(&shared)?].to_vec();
    let garbage: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
    let files: [(&str, Vec<u8>); 3] = [
        ("bad-empty", Vec::new()),
        ("bad-garbage", garbage),
        ("bad-truncated", truncated),
    ];
    for (name, bytes) in files {
        let tar = kit::image::tar_path(&ctx.image_dir, name);
        std::fs::write(&tar, bytes).with_context(|| format!("writing {}", tar.display()))?;
        if let Some(verdict) = refused_image(ctx, name)? {
            return Ok(verdict);
        }
    }
    let contradicting: [(&str, Vec<Member>); 2] = [
        (
            "bad-symlink-over-dir",
            vec![
                ("etc/".into(), Directory, None),
                ("etc/f".into(), Regular, None),
                ("etc".into(), Symlink, Some("/tmp".into())),
            ],
        ),
        (
            "bad-dir-over-symlink",
            vec![
                ("lib".into(), Symlink, Some("usr/lib".into())),
                ("lib/".into(), Directory, None),
            ],
        ),
    ];
    for (name, members) in contradicting {
        write_tar(&kit::image::tar_path(&ctx.image_dir, name), &members)?;
        if let Some(verdict) = refused_image(ctx, name)? {
            return Ok(verdict);
        }
    }
    Ok(Verdict::Pass)
}

/// Where to cut a tar so that it ends inside a member's content: the middle of its first
/// non-empty file (or of its first header, in a tar of empty files).
fn middle_of_first_file(tar: &[u8]) -> Result<usize> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let entry = entry?;
        let size = entry.header().size()?;
        if size > 1 {
            return Ok((entry.raw_file_position() + size / 2) as usize);
        }
    }
    Ok(256.min(tar.len()))
}

/// Runs image `name` (its tar in the check's image dir): None when refused as the contract says.
fn refused_image(ctx: &mut Ctx, name: &str) -> Result<Option<Verdict>> {
    let tar = kit::image::tar_path(&ctx.image_dir, name);
    let mut before = leftovers(ctx);
    before.insert(tar);
    let run = run_image(ctx, name)?;
    let verdict = refused(&run, ctx, &before, &[])?;
    Ok((verdict != Verdict::Pass).then(|| with(verdict, &format!("the image {name:?}"))))
}

fn bad_hostname_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let long = "h".repeat(300);
    refuses_each(ctx, "--hostname", &[&long, "a\nb"])
}

fn bad_cpus_are_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let above = format!("{}", cpus * 64 + 1);
    refuses_each(ctx, "--cpus", &["0.0001", &above])
}

fn bad_cgroup_parent_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    // Below the run's own parent (`{}`), so that a runtime that accepts them makes its groups in
    // the run's cage, which removes them.
    refuses_each(ctx, "--cgroup-parent", &["{}/a\nb", "{}/a/../b"])
}

fn small_memory_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    refuses_each(ctx, "--memory", &["1", "1m"])
}

fn bad_user_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    refuses_each(
        ctx,
        "--user",
        &["bob", "1000:", "4294967295", "1000:4294967295"],
    )
}

fn bad_pids_limit_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    refuses_each(ctx, "--pids-limit", &["4194305"])
}

/// Runs the probe with `flag value` (in place of the checker's own value of that flag, if any,
/// which a `{}` in the value stands for) for each value; the first not refused as the contract
/// says is the verdict.
fn refuses_each(ctx: &mut Ctx, flag: &str, values: &[&str]) -> Result<Verdict> {
    for value in values {
        let before = leftovers(ctx);
        let run = run_with(ctx, flag, value)?;
        let verdict = refused(&run, ctx, &before, &[])?;
        if verdict != Verdict::Pass {
            let shown: String = value.replace("{}", "<parent>").chars().take(24).collect();
            let more = if value.len() > 24 {
                format!("… ({} bytes)", value.len())
            } else {
                String::new()
            };
            return Ok(with(verdict, &format!("{flag} {shown:?}{more}")));
        }
    }
    Ok(Verdict::Pass)
}

fn run_with(ctx: &mut Ctx, flag: &str, value: &str) -> Result<Run<Report>> {
    let (argv, nonce) = ctx.probe_command(REPORT, &[]);
    let mut spec = ctx.spec(argv, nonce);
    match spec.runtime_args.iter().position(|a| a == flag) {
        Some(at) => spec.runtime_args[at + 1] = value.replace("{}", &spec.runtime_args[at + 1]),
        None => spec
            .runtime_args
            .extend([flag.to_string(), value.to_string()]),
    }
    let run = run::run(&spec, &ctx.sandbox)?;
    ctx.record(&run, &spec.command[0]);
    Ok(run)
}

/// Names the input a verdict is about.
fn with(verdict: Verdict, input: &str) -> Verdict {
    verdict.map_observed(|seen| format!("with {input}: {seen}"))
}
