//! Bad input to the runtime: what the contract says a runtime does with input it cannot use (exit
//! 2, one line on stderr, nothing left behind), at the level where that input first means
//! something. A malformed size is a usage error from level 0 on; a missing or hostile image from
//! level 1, where the runtime starts extracting images.

use crate::check::{fail, fail_hinting, Check, Ctx, Verdict};
use crate::run::{self, Run, Status};
use crate::text;
use anyhow::{Context, Result};
use probe::{Report, REPORT};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub(super) const CONTRACT: &str =
    "https://docs.docker.com/reference/cli/docker/container/run/#exit-status";

/// The exit status the contract gives bad input.
const EXIT_BAD_INPUT: i32 = 2;

pub const BAD_SIZE: Check = Check {
    id: "L0.input.bad-size",
    level: 0,
    title: "a malformed size (--memory 12q) exits 2 with one line on stderr",
    hint: "Bad input is exit status 2 and a single line that says what is wrong; kit::main does it for you unless main parses the command line itself (clap's own message is several lines).",
    doc: CONTRACT,
    run: malformed_size_is_refused,
};

pub const MISSING_IMAGE: Check = Check {
    id: "L1.input.missing-image",
    level: 1,
    title: "a missing image exits 2 with one line and leaves nothing behind",
    hint: "kit::image::extract reports a missing image as bad input (exit 2); when it fails, remove the container's directory before returning the error.",
    doc: CONTRACT,
    run: missing_image_is_refused,
};

pub const HOSTILE_IMAGE: Check = Check {
    id: "L1.input.hostile-image",
    level: 1,
    title: "an image whose tar climbs out (../x, /abs, a file through a symlink) is refused: exit 2, nothing written, nothing left",
    hint: "kit::image::extract refuses such images as bad input (exit 2): return its error as it is, and remove the container's directory (and, from level 7, the half-extracted image) before you do.",
    doc: "https://man7.org/linux/man-pages/man5/tar.5.html",
    run: hostile_image_is_refused,
};

pub const MEMORY_SWAP: Check = Check {
    id: "L9.input.memory-swap",
    level: 9,
    title: "--memory-swap below --memory, or without --memory, exits 2 with one line and leaves nothing behind",
    hint: "--memory-swap is memory plus swap (Docker): below --memory it means nothing, and alone it has nothing to add to. Refuse both as bad input (kit::BadInput, exit 2) before you create the container, its group or the child: check them first thing in run.",
    doc: "https://docs.docker.com/engine/containers/resource_constraints/#--memory-swap-details",
    run: bad_memory_swap_is_refused,
};

fn bad_memory_swap_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let cases: [&[&str]; 2] = [
        &["--memory", "64m", "--memory-swap", "32m"],
        &["--memory-swap", "64m"],
    ];
    for flags in cases {
        ctx.flags = flags.iter().map(|f| f.to_string()).collect();
        let before = leftovers(ctx);
        let (argv, nonce) = ctx.probe_command(REPORT, &[]);
        let run: Run<Report> = ctx.command(argv, nonce)?;
        let mut verdict = refused(&run, ctx, &before, &[])?;
        if verdict == Verdict::Pass && !run.left_groups.is_empty() {
            verdict = fail(
                "exit status 2, and no group made for a container that never ran",
                run.left_groups.join("; "),
            );
        }
        if verdict != Verdict::Pass {
            let given = flags.join(" ");
            return Ok(verdict.map_observed(|seen| format!("with {given}: {seen}")));
        }
    }
    Ok(Verdict::Pass)
}

fn malformed_size_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    ctx.flags = vec!["--memory".into(), "12q".into()];
    let before = leftovers(ctx);
    let (argv, nonce) = ctx.probe_command(REPORT, &[]);
    let run: Run<Report> = ctx.command(argv, nonce)?;
    refused(&run, ctx, &before, &[])
}

fn missing_image_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let name = format!("missing-{}", run::nonce());
    let before = leftovers(ctx);
    let run = run_image(ctx, &name)?;
    refused(&run, ctx, &before, &[])
}

/// Three images, each with one member that would land outside the rootfs. They are kept in the
/// checker's shared image dir, so the reproduce line still finds them after the check. The
/// escapes aim at the check's scratch dir or at a file of this user's in the temp dir (a short
/// path, which a tar header can hold), removed afterwards: a runtime that follows them writes
/// nowhere else.
fn hostile_image_is_refused(ctx: &mut Ctx) -> Result<Verdict> {
    let scratch = ctx
        .image_dir
        .parent()
        .context("the check's image dir has a parent")?
        .to_path_buf();
    let shared = ctx.env.image_dir.clone();
    for (name, escapes, members) in hostile_images(&std::env::temp_dir(), &scratch) {
        for escape in &escapes {
            // Left by an earlier run of a runtime that followed it: ours to remove.
            let _ = std::fs::remove_file(escape);
        }
        let tar = kit::image::tar_path(&shared, name);
        write_tar(&tar, &members)?;
        let link = kit::image::tar_path(&ctx.image_dir, name);
        if std::fs::hard_link(&tar, &link).is_err() {
            std::fs::copy(&tar, &link)?;
        }
        let before = leftovers(ctx);
        let run = run_image(ctx, name)?;
        let verdict = refused(&run, ctx, &before, &escapes)?;
        for escape in &escapes {
            let _ = std::fs::remove_file(escape);
        }
        if verdict != Verdict::Pass {
            return Ok(with_image(verdict, name));
        }
    }
    Ok(Verdict::Pass)
}

/// A tar member: path, kind, link target.
pub(super) type Member = (String, tar::EntryType, Option<String>);

/// (image name, where an escape would create a file, the image's members). The same for every
/// run by this user, so the image in the shared dir is always the one a reproduce line names.
fn hostile_images(temp: &Path, scratch: &Path) -> Vec<(&'static str, Vec<PathBuf>, Vec<Member>)> {
    use tar::EntryType::{Directory, Regular, Symlink};
    let start = || {
        vec![
            ("bin/".to_string(), Directory, None),
            ("bin/ok".to_string(), Regular, None),
        ]
    };
    let with = |last: Vec<Member>| start().into_iter().chain(last).collect::<Vec<_>>();
    let escaped = format!("rubber-crab-escaped-{}", nix::unistd::getuid());
    let absolute = temp.join(format!("{escaped}-absolute"));
    vec![
        (
            // From <container-dir>/<id>/rootfs, `../../x` lands among the containers; from
            // level 7's <image-dir>/.<name>.extracting-…/, beside the image dir.
            "hostile-climbs-out",
            vec![
                scratch.join("containers/escaped-dotdot"),
                scratch.join("escaped-dotdot"),
            ],
            with(vec![("../../escaped-dotdot".into(), Regular, None)]),
        ),
        (
            "hostile-absolute",
            vec![absolute.clone()],
            with(vec![(text::path_str(&absolute), Regular, None)]),
        ),
        (
            "hostile-through-symlink",
            vec![temp.join(format!("{escaped}-symlink"))],
            with(vec![
                ("link".into(), Symlink, Some(text::path_str(temp))),
                (format!("link/{escaped}-symlink"), Regular, None),
            ]),
        ),
    ]
}

/// Writes a tar of `members` (one byte of content each) with the names exactly as given:
/// `tar::Header::set_path` would refuse the hostile ones.
pub(super) fn write_tar(path: &Path, members: &[Member]) -> Result<()> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, link) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o755);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            b"x"
        } else {
            b""
        };
        header.set_size(data.len() as u64);
        let field = &mut header.as_old_mut().name;
        anyhow::ensure!(name.len() < field.len(), "tar member name too long: {name}");
        field[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            header.set_link_name_literal(link)?;
        }
        header.set_cksum();
        builder.append(&header, data)?;
    }
    // Written aside and renamed: another checker may be reading the same image.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, builder.into_inner()?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))
}

/// Runs the probe with `--image name` in place of the test image.
pub(super) fn run_image(ctx: &mut Ctx, name: &str) -> Result<Run<Report>> {
    let (argv, nonce) = ctx.probe_command(REPORT, &[]);
    let mut spec = ctx.spec(argv, nonce);
    if let Some(at) = spec.runtime_args.iter().position(|a| a == "--image") {
        spec.runtime_args[at + 1] = name.to_string();
    }
    let run = run::run(&spec, &ctx.sandbox)?;
    ctx.record(&run, &spec.command[0]);
    Ok(run)
}

/// What is in the check's container and image dirs.
pub(super) fn leftovers(ctx: &Ctx) -> BTreeSet<PathBuf> {
    [&ctx.container_dir, &ctx.image_dir]
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|entry| entry.path())
        .collect()
}

/// The verdict on a run that was given bad input: exit 2, one line on stderr, no new file in
/// the container or image dir, and none of `escapes` written.
pub(super) fn refused(
    run: &Run<Report>,
    ctx: &mut Ctx,
    before: &BTreeSet<PathBuf>,
    escapes: &[PathBuf],
) -> Result<Verdict> {
    let expected = "exit status 2, one line on stderr, and nothing left behind";
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let left: Vec<PathBuf> = leftovers(ctx)
        .difference(before)
        .cloned()
        .chain(
            escapes
                .iter()
                .filter(|p| p.symlink_metadata().is_ok())
                .cloned(),
        )
        .collect();
    let shown = || {
        left.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A warning about a mount or a cgroup left behind is about that, not about the image.
    let warned = super::l0::warning_hint(&lines).filter(|h| *h != super::l0::OTHER_WARNING_HINT);
    Ok(if run.status != Status::Exited(EXIT_BAD_INPUT) {
        fail(
            expected,
            format!("{}{}", run.status, crate::check::stderr_tail(run)),
        )
    } else if lines.len() != 1 {
        let observed = format!("{} lines on stderr: {:?}", lines.len(), run.stderr);
        match warned {
            Some(hint) => fail_hinting(expected, observed, hint),
            None => fail(expected, observed),
        }
    } else if left.iter().any(|p| p.starts_with(&ctx.container_dir)) {
        let observed = format!("left behind: {}", shown());
        match left_by_every_run(ctx)? {
            Some(dir) => fail_hinting(
                expected,
                format!(
                    "{observed}; a run of the test image, which it did not refuse, left {dir} too"
                ),
                EVERY_RUN_LEAVES_HINT,
            ),
            None => fail(expected, observed),
        }
    } else if left.iter().any(|p| p.starts_with(&ctx.image_dir)) {
        fail_hinting(
            expected,
            format!(
                "left behind: {} (a half-extracted copy of the refused image)",
                shown()
            ),
            HALF_EXTRACTED_HINT,
        )
    } else if !left.is_empty() {
        fail(expected, format!("left behind: {}", shown()))
    } else {
        Verdict::Pass
    })
}

/// Every run, not only a refused one, leaves its container's directory.
const EVERY_RUN_LEAVES_HINT: &str = "Every run leaves its <container-dir>/<id>/ behind, not only a refused one: remove the container's directory once the child has exited (in the parent, after waitpid), whatever its exit status, and when the setup fails too.";

/// The image was extracted where the next run takes it from, and the refusal left it there.
const HALF_EXTRACTED_HINT: &str = "The refused image was extracted straight into the image dir and left there half done: the next run would take it for the image. Extract with kit::image::extract_once(image_dir, name): it extracts into a temporary directory, renames it into place only once complete (removing it when the image is refused), and later runs reuse it instead of extracting again.";

/// The directory a run of the test image left in the container dir, if it left one.
fn left_by_every_run(ctx: &mut Ctx) -> Result<Option<String>> {
    let before = leftovers(ctx);
    let run = ctx.probe(REPORT, &[])?;
    // The refused run stays the last one: the verdict's reproduce line and output are its.
    if let Some(this) = ctx.runs.pop() {
        let at = ctx.runs.len().saturating_sub(1);
        ctx.runs.insert(at, this);
    }
    if run.reply.is_err() {
        return Ok(None);
    }
    Ok(leftovers(ctx)
        .difference(&before)
        .find(|p| p.starts_with(&ctx.container_dir))
        .map(|p| p.display().to_string()))
}

/// Names the image a verdict is about.
fn with_image(verdict: Verdict, name: &str) -> Verdict {
    verdict.map_observed(|seen| format!("with the image {name:?}: {seen}"))
}
