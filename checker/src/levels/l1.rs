//! Level 1 — chroot into a fresh copy of the image.

use crate::check::{
    fail, fail_hinting, report, report_or_fail, somewhere_under, Check, Ctx, Verdict,
};
use anyhow::Result;
use kit::builder::MARKER_PATH;
use probe::{REPORT, WRITE};

const CHROOT: &str = "https://man7.org/linux/man-pages/man2/chroot.2.html";

pub const CHECKS: &[Check] = &[
    Check {
        id: "L1.chroot.image-root",
        level: 1,
        title: "the image's files are at /",
        hint: "Extract the image into the container's rootfs (kit::image::extract), then chroot(rootfs) in the child before execvp.",
        doc: CHROOT,
        run: image_is_at_root,
    },
    Check {
        id: "L1.chroot.host-hidden",
        level: 1,
        title: "a file on the host is invisible inside",
        hint: "After chroot(rootfs), paths resolve inside the rootfs: the host's files are out of reach. Is chroot called in the child, before execvp?",
        doc: CHROOT,
        run: host_file_is_hidden,
    },
    Check {
        id: "L1.chroot.cwd",
        level: 1,
        title: "the working directory is / inside the container",
        hint: "chroot does not change the working directory: call chdir(\"/\") right after it.",
        doc: CHROOT,
        run: cwd_is_root,
    },
    Check {
        id: "L1.chroot.fresh-copy",
        level: 1,
        title: "each run starts from a fresh copy of the image",
        hint: "Extract into a new directory for every container (Container::create picks a new id each time); never reuse a previous rootfs.",
        doc: CHROOT,
        run: each_run_is_fresh,
    },
    Check {
        id: "L1.chroot.under-container-dir",
        level: 1,
        title: "the rootfs lives under --container-dir",
        hint: "Put the rootfs at container.rootfs(), i.e. <container-dir>/<id>/rootfs, using args.container_dir().",
        doc: CHROOT,
        run: rootfs_under_container_dir,
    },
    super::input::MISSING_IMAGE,
    super::input::HOSTILE_IMAGE,
    super::input_more::IMAGE_NAME,
    super::input_more::BAD_TAR,
];

fn image_is_at_root(ctx: &mut Ctx) -> Result<Verdict> {
    let marker = format!("/{MARKER_PATH}");
    let run = ctx.probe(REPORT, &["--read", &marker])?;
    let report = report_or_fail!(run);
    Ok(match report.file(&marker) {
        Some(content) if content == ctx.env.image_marker => Verdict::Pass,
        Some(other) => fail(
            format!("{marker} contains {:?}", ctx.env.image_marker),
            format!("it contains {other:?}"),
        ),
        None => fail(
            format!("{marker} (the image's marker file) is readable at /"),
            "no such file: / is not the image's root",
        ),
    })
}

fn host_file_is_hidden(ctx: &mut Ctx) -> Result<Verdict> {
    let host = ctx.env.host_marker.display().to_string();
    let run = ctx.probe(REPORT, &["--read", &host])?;
    let report = report_or_fail!(run);
    Ok(match report.file(&host) {
        None => Verdict::Pass,
        Some(_) => fail(
            format!("{host}, a file on the host, is not visible inside"),
            "the container read it: it still sees the host's /",
        ),
    })
}

fn cwd_is_root(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    Ok(match report.cwd.as_str() {
        "/" => Verdict::Pass,
        // getcwd fails for a directory that cannot be reached from the process's root.
        "" => fail(
            "working directory /",
            format!(
                "a working directory outside the container's root: getcwd fails inside ({}), so it is still where the runtime ran, on the host side of the chroot",
                report.error.as_deref().unwrap_or("no path")
            ),
        ),
        other => fail(
            "working directory /",
            format!("working directory {other:?}"),
        ),
    })
}

fn each_run_is_fresh(ctx: &mut Ctx) -> Result<Verdict> {
    let path = format!("{}/fresh-{}", crate::prepare::SCRATCH, crate::run::nonce());
    let first = ctx.probe(WRITE, &[&path])?;
    let written = report_or_fail!(first);
    if !written.ok {
        return Ok(fail(
            format!("the first container can write {path}"),
            format!(
                "the write failed: {} ({} exists only in the image: is the container's / the image?)",
                written.error.as_deref().unwrap_or_default(),
                crate::prepare::SCRATCH
            ),
        ));
    }
    let second = ctx.probe(REPORT, &["--read", &path])?;
    let report = report_or_fail!(second);
    let expected = format!("{path}, written by the first container, is absent from the second");
    let on_overlay = report
        .mounts()
        .iter()
        .any(|m| m.mount_point == "/" && m.fstype == "overlay");
    Ok(match (report.file(&path), on_overlay) {
        (None, _) => Verdict::Pass,
        (Some(_), false) => fail(
            expected,
            "the second container sees it: both used the same rootfs",
        ),
        (Some(_), true) => fail_hinting(
            expected,
            "the second container sees it: its / is an overlay whose upper dir holds the first container's write",
            SHARED_UPPER,
        ),
    })
}

/// A fresh copy, from level 7 on, is a fresh upper dir.
const SHARED_UPPER: &str = "An overlay writes every change into its upperdir: give each container its own upperdir and workdir, under its own <container-dir>/<id>/, never one shared by every container.";

fn rootfs_under_container_dir(ctx: &mut Ctx) -> Result<Verdict> {
    // A file the container writes must land under --container-dir: in its rootfs, or in its
    // overlay's upper layer from level 7 on.
    let name = format!("here-{}", crate::run::nonce());
    let path = format!("{}/{name}", crate::prepare::SCRATCH);
    let container_dir = ctx.container_dir.clone();
    let (run, found) = ctx.hold(WRITE, &[&path], |_| {
        somewhere_under(&container_dir, 5, &|dir| dir.join(&name).exists())
    })?;
    let Some(found) = found else {
        return Ok(report(&run)
            .err()
            .unwrap_or_else(|| fail("the probe reports", "nothing")));
    };
    Ok(if found {
        Verdict::Pass
    } else {
        fail(
            format!(
                "{path}, written in the container, is under {}",
                container_dir.display()
            ),
            "it is not there: the container's files are somewhere else",
        )
    })
}
