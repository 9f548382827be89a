//! Level 7 — overlayfs.

use crate::check::{fail, mounts_of, report_or_fail, somewhere_under, Check, Ctx, Verdict};
use crate::mounts;
use anyhow::Result;
use kit::builder::MARKER_PATH;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

const OVERLAY: &str = "https://docs.kernel.org/filesystems/overlayfs.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L7.overlay.root-is-overlay",
        level: 7,
        title: "the container's / is an overlay",
        hint: "In the child, after making mounts private: mount(Some(\"overlay\"), rootfs, Some(\"overlay\"), MsFlags::empty(), Some(\"lowerdir=...,upperdir=...,workdir=...\")).",
        doc: OVERLAY,
        run: root_is_overlay,
    },
    Check {
        id: "L7.overlay.image-untouched",
        level: 7,
        title: "a delete inside leaves the image untouched: it becomes a whiteout in upper",
        hint: "The extracted image must only ever be the overlay's lowerdir; every change goes to the container's upperdir.",
        doc: OVERLAY,
        run: image_untouched,
    },
    Check {
        id: "L7.overlay.isolated",
        level: 7,
        title: "two running containers never see each other's writes",
        hint: "Give each container its own upperdir and workdir, under its own <container-dir>/<id>/.",
        doc: OVERLAY,
        run: containers_isolated,
    },
    Check {
        id: "L7.overlay.extracted-once",
        level: 7,
        title: "the image is extracted once, into <image-dir>/<name>/, and reused",
        hint: "kit::image::extract_once(image_dir, name) extracts only when <image-dir>/<name>/ does not exist yet; never delete it per container.",
        doc: OVERLAY,
        run: extracted_once,
    },
    Check {
        id: "L7.overlay.cleanup",
        level: 7,
        title: "after exit, nothing is left mounted and the container's directory is gone",
        hint: "Mount the overlay in the child's private mount namespace (it goes away with it), and remove <container-dir>/<id>/ once the child has exited.",
        doc: OVERLAY,
        run: cleaned_up,
    },
];

fn root_is_overlay(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe("report", &[])?;
    let report = report_or_fail!(run);
    Ok(
        match mounts_of(report).into_iter().find(|m| m.mount_point == "/") {
            Some(m) if m.fstype == "overlay" => Verdict::Pass,
            Some(m) => fail("/ is an overlay mount", format!("/ is {}", m.fstype)),
            None => fail("/ is an overlay mount", "nothing is mounted on /"),
        },
    )
}

/// The image as the runtime extracted it: `<image-dir>/<name>/`.
fn lower(ctx: &Ctx) -> std::path::PathBuf {
    kit::image::extracted_dir(&ctx.image_dir, &ctx.env.image)
}

fn image_untouched(ctx: &mut Ctx) -> Result<Verdict> {
    let victim = format!("/{MARKER_PATH}");
    let lower_file = lower(ctx).join(MARKER_PATH);
    let container_dir = ctx.container_dir.clone();
    let (run, seen) = ctx.hold("delete", &[&victim], |_| {
        (
            lower_file.exists(),
            find_whiteout(&container_dir, MARKER_PATH, 4),
        )
    })?;
    let report = report_or_fail!(run);
    if !report.get("ok").and_then(Value::as_bool).unwrap_or(false) {
        return Ok(fail(
            format!("the container can delete {victim}"),
            "the delete failed",
        ));
    }
    let (in_image, whiteout) = seen.unwrap_or((false, false));
    Ok(if !lower(ctx).is_dir() {
        fail(
            format!(
                "the image, extracted once at {}, is the overlay's lower layer",
                lower(ctx).display()
            ),
            "there is no such directory: the container's files do not come from it",
        )
    } else if !in_image || !lower_file.exists() {
        fail(
            format!(
                "{} is still in the image after the container deleted it",
                lower_file.display()
            ),
            "it is gone: the container wrote to the image itself",
        )
    } else if !whiteout {
        fail(format!("a whiteout for {MARKER_PATH} (a 0:0 character device) in the container's upper dir"), format!("none under {}", container_dir.display()))
    } else {
        Verdict::Pass
    })
}

/// Whether a whiteout (a character device 0:0) called `name` is within `depth` levels of `dir`.
fn find_whiteout(dir: &Path, name: &str, depth: u32) -> bool {
    somewhere_under(dir, depth, &|dir| {
        std::fs::symlink_metadata(dir.join(name))
            .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
    })
}

fn containers_isolated(ctx: &mut Ctx) -> Result<Verdict> {
    let path = format!("{}/mine-{}", crate::prepare::SCRATCH, crate::run::nonce());
    // The second container's run is prepared here and started while the first one holds.
    let (argv, nonce) = ctx.probe_command("report", &["--read", &path]);
    let second = ctx.spec(argv, nonce);
    let (first, other) = ctx.hold("write", &[&path], |held| {
        crate::run::run(&second, held.sandbox)
    })?;
    report_or_fail!(first);
    let Some(other) = other.transpose()? else {
        return Ok(fail(
            "the first container writes and waits",
            "it did not report",
        ));
    };
    let report = report_or_fail!(other);
    Ok(
        match report
            .get("files")
            .and_then(|f| f.get(&path))
            .and_then(Value::as_str)
        {
            None => Verdict::Pass,
            Some(_) => fail(
                format!("{path}, written by a running container, is invisible to a second one"),
                "the second container read it: they share a writable layer",
            ),
        },
    )
}

fn extracted_once(ctx: &mut Ctx) -> Result<Verdict> {
    let marker = lower(ctx).join(MARKER_PATH);
    // The inode number alone is not enough: a deleted file's number is often reused at once,
    // and extraction sets the mtime from the tar. The ctime is the kernel's: a new file has a
    // new one.
    let identity = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.ino(), m.ctime(), m.ctime_nsec()))
    };
    let first = ctx.probe("report", &[])?;
    report_or_fail!(first);
    let Some(before) = identity(&marker) else {
        return Ok(fail(
            format!("the image extracted once, at {}", lower(ctx).display()),
            "nothing there after a container ran",
        ));
    };
    let second = ctx.probe("report", &[])?;
    report_or_fail!(second);
    Ok(match identity(&marker) {
        Some(after) if after == before => Verdict::Pass,
        Some(_) => fail(
            format!(
                "{} is the same file after a second container started",
                marker.display()
            ),
            "it was replaced: the image was extracted again",
        ),
        None => fail(
            format!(
                "{} is still there after a second container",
                marker.display()
            ),
            "it is gone",
        ),
    })
}

fn cleaned_up(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe("report", &[])?;
    report_or_fail!(run);
    let left_mounts: Vec<String> = ctx
        .sandbox
        .leftover_mounts()?
        .iter()
        .map(mounts::describe)
        .collect();
    let left_dirs: Vec<String> = std::fs::read_dir(&ctx.container_dir)?
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    Ok(if !left_mounts.is_empty() {
        fail(
            "no mount left after the container exited",
            format!("still mounted: {}", left_mounts.join("; ")),
        )
    } else if !left_dirs.is_empty() {
        fail(
            "the container's directory is removed after it exited",
            format!("left: {}", left_dirs.join(", ")),
        )
    } else {
        Verdict::Pass
    })
}
