//! Level 7 — overlayfs.

use crate::check::{fail, report_or_fail, somewhere_under, Check, Ctx, Verdict};
use crate::mounts;
use anyhow::Result;
use kit::builder::MARKER_PATH;
use probe::{Report, DELETE, REPORT, WRITE};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

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
        title: "two running containers never see each other's writes, and each has a workdir of its own",
        hint: "Give each container its own upperdir and workdir, under its own <container-dir>/<id>/: the workdir is the overlay's scratch space, empty, on the same filesystem as the upperdir, and in use by one mount only (a second mount on it only gets a warning in dmesg: \"workdir is in-use by another mount\"). Try: two `your runtime run -- sleep 60` at once, then grep workdir= /proc/*/mountinfo.",
        doc: OVERLAY,
        run: containers_isolated,
    },
    Check {
        id: "L7.overlay.extracted-once",
        level: 7,
        title: "the image is extracted once, outside the container's dir, and every container's lower layer",
        hint: "kit::image::extract_once(image_dir, name) extracts only when <image-dir>/<name>/ does not exist yet; never delete it per container.",
        doc: OVERLAY,
        run: extracted_once,
    },
    Check {
        id: "L7.overlay.no-copy",
        level: 7,
        title: "a running container's directory holds its changes, not a copy of the image",
        hint: "Level 7 replaces step 1's per-container extraction: mount the overlay on an empty <container-dir>/<id>/rootfs, with the image extracted once as its lowerdir.",
        doc: OVERLAY,
        run: no_copy,
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
    let run = ctx.probe(REPORT, &[])?;
    let report = report_or_fail!(run);
    Ok(match root_overlay(&report.mounts()) {
        Ok(_) => Verdict::Pass,
        Err(why) => fail("/ is an overlay mount", why),
    })
}

/// The container's root overlay in a mount table: `Err` says what is there instead.
fn root_overlay(table: &[mounts::Mount]) -> std::result::Result<&mounts::Mount, String> {
    match table.iter().rev().find(|m| m.mount_point == "/") {
        Some(m) if m.fstype == "overlay" => Ok(m),
        Some(m) => Err(format!(
            "/ is {}, not an overlay: it has no lower layer",
            m.fstype
        )),
        None => Err("nothing is mounted on /".into()),
    }
}

/// The directories an overlay's option names `key` (`lowerdir`, `upperdir`), as the kernel shows
/// them in mountinfo: octal escapes decoded; lower layers split on `:` (a `\:` is a colon in a
/// name), or given one by one (`lowerdir+=`) on newer kernels. Paths are as the runtime gave
/// them, which for an absolute path is where the host sees them too.
fn overlay_dirs(super_options: &str, key: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for option in super_options.split(',') {
        let value = match option.split_once('=') {
            Some((k, v)) if k == key || k == format!("{key}+") => probe::unescape_octal(v),
            _ => continue,
        };
        if key != "lowerdir" {
            dirs.push(PathBuf::from(value));
            continue;
        }
        let mut layer = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => layer.extend(chars.next()),
                ':' => dirs.push(PathBuf::from(std::mem::take(&mut layer))),
                c => layer.push(c),
            }
        }
        dirs.push(PathBuf::from(layer));
    }
    dirs.retain(|d| !d.as_os_str().is_empty());
    dirs
}

/// The image as the container sees it: the lower layers of its root overlay, where the kernel
/// says they are (the `lowerdir=` of `/` in the container's mountinfo).
struct Image {
    layers: Vec<PathBuf>,
    upper: Option<PathBuf>,
    work: Option<PathBuf>,
}

impl Image {
    fn of(table: &[mounts::Mount]) -> std::result::Result<Image, String> {
        let root = root_overlay(table)?;
        let layers = overlay_dirs(&root.super_options, "lowerdir");
        if layers.is_empty() {
            return Err(format!(
                "/ is an overlay without a lowerdir in its options ({})",
                root.super_options
            ));
        }
        Ok(Image {
            layers,
            upper: overlay_dirs(&root.super_options, "upperdir").pop(),
            work: overlay_dirs(&root.super_options, "workdir").pop(),
        })
    }

    /// The host process's image, from `/proc/<pid>/mountinfo`.
    fn of_process(pid: Option<u32>) -> std::result::Result<Image, String> {
        let pid = pid.ok_or("the probe's process could not be found on the host")?;
        Image::of(&mounts::read(&format!("/proc/{pid}/mountinfo")).map_err(|e| format!("{e:#}"))?)
    }

    /// The image's file `path` in the top-most layer that holds it.
    fn file(&self, path: &str) -> Option<PathBuf> {
        self.layers
            .iter()
            .map(|layer| layer.join(path))
            .find(|p| std::fs::symlink_metadata(p).is_ok())
    }

    fn describe(&self) -> String {
        let layers: Vec<String> = self
            .layers
            .iter()
            .map(|l| l.display().to_string())
            .collect();
        layers.join(":")
    }

    /// A layer inside `dir`, if any: per-container state, not an image extracted once.
    fn layer_inside(&self, dir: &Path) -> Option<&PathBuf> {
        self.layers.iter().find(|l| l.starts_with(dir))
    }
}

fn image_untouched(ctx: &mut Ctx) -> Result<Verdict> {
    let victim = format!("/{MARKER_PATH}");
    let content = ctx.env.image_marker.clone();
    // While the container holds, after its delete: the marker is still in the lower layer, with
    // its content, and the upper layer has a whiteout for it.
    let (run, seen) = ctx.hold(DELETE, &[&victim], |held| {
        Image::of_process(held.probe_pid).map(|image| {
            let kept = image
                .file(MARKER_PATH)
                .and_then(|p| std::fs::read_to_string(p).ok())
                .is_some_and(|c| c == content);
            let whiteout = image
                .upper
                .as_deref()
                .is_some_and(|upper| find_whiteout(upper, MARKER_PATH, 0));
            (image, kept, whiteout)
        })
    })?;
    if !report_or_fail!(run).ok {
        return Ok(fail(
            format!("the container can delete {victim}"),
            "the delete failed",
        ));
    }
    Ok(match seen {
        None => fail("the probe reports and waits", "it did not"),
        Some(Err(why)) => fail("the container's / is an overlay over the image", why),
        Some(Ok((image, false, _))) => fail(
            format!(
                "{MARKER_PATH} is still in the image (the overlay's lower layer, {}) after the container deleted it",
                image.describe()
            ),
            "it is gone or changed: the container wrote to the image itself",
        ),
        Some(Ok((image, true, false))) => fail(
            format!("a whiteout for {MARKER_PATH} (a 0:0 character device) in the overlay's upper dir"),
            match image.upper {
                Some(upper) => format!("none in {}", upper.display()),
                None => "the overlay has no upperdir".into(),
            },
        ),
        Some(Ok((_, true, true))) => Verdict::Pass,
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
    let (argv, nonce) = ctx.probe_command(REPORT, &["--read", &path]);
    let second = ctx.spec(argv, nonce);
    // The first container's write must not reach its lower layer either, where it would be
    // the image's from then on. Its workdir is read while it runs, as the second one's.
    let seen = |pid| {
        let image = Image::of_process(pid).ok();
        let in_image = image
            .as_ref()
            .and_then(|image| image.file(path.trim_start_matches('/')));
        (in_image, image.and_then(|image| image.work))
    };
    let (first, other) = ctx.hold(WRITE, &[&path], |held| {
        (
            seen(held.probe_pid),
            crate::run::run::<Report>(&second, held.sandbox),
        )
    })?;
    report_or_fail!(first);
    let Some(((in_image, first_work), other)) = other else {
        return Ok(fail(
            "the first container writes and waits",
            "it did not report",
        ));
    };
    if let Some(file) = in_image {
        return Ok(fail(
            format!("{path}, written by a container, stays out of the image (the overlay's lower layer)"),
            format!("it is in the image: {}", file.display()),
        ));
    }
    let other = other?;
    let report = report_or_fail!(other);
    if report.file(&path).is_some() {
        return Ok(fail(
            format!("{path}, written by a running container, is invisible to a second one"),
            "the second container read it: they share a writable layer",
        ));
    }
    // Both alive at once: the second reported while the first held.
    let second_work = Image::of(&report.mounts())
        .ok()
        .and_then(|image| image.work);
    Ok(match (first_work, second_work) {
        (Some(first), Some(second)) if first == second => fail(
            "each running container's overlay has a workdir of its own (an empty dir on the upperdir's filesystem, used by one mount only)",
            format!(
                "two running containers share the workdir {}: the kernel warns \"overlayfs: workdir is in-use by another mount\" and the overlays can corrupt each other's copy-ups",
                first.display()
            ),
        ),
        _ => Verdict::Pass,
    })
}

fn extracted_once(ctx: &mut Ctx) -> Result<Verdict> {
    // The inode number alone is not enough: a deleted file's number is often reused at once,
    // and extraction sets the mtime from the tar. The ctime is the kernel's: a new file has a
    // new one.
    let identity = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.ino(), m.ctime(), m.ctime_nsec()))
    };
    let first = ctx.probe(REPORT, &[])?;
    let image = match Image::of(&report_or_fail!(first).mounts()) {
        Ok(image) => image,
        Err(why) => return Ok(fail("the container's / is an overlay over the image", why)),
    };
    if let Some(layer) = image.layer_inside(&ctx.container_dir) {
        return Ok(fail(
            format!(
                "the overlay's lower layer is the image, extracted once outside {}",
                ctx.container_dir.display()
            ),
            format!("it is {}, a per-container copy", layer.display()),
        ));
    }
    let Some(marker) = image.file(MARKER_PATH) else {
        return Ok(fail(
            format!("the image's {MARKER_PATH} in the overlay's lower layer"),
            format!("it is not in {}", image.describe()),
        ));
    };
    let before = identity(&marker);
    let second = ctx.probe(REPORT, &[])?;
    let again = match Image::of(&report_or_fail!(second).mounts()) {
        Ok(again) => again,
        Err(why) => return Ok(fail("the second container's / is an overlay too", why)),
    };
    Ok(if again.layers != image.layers {
        fail(
            format!(
                "a second container's lower layer is the first one's, {}",
                image.describe()
            ),
            format!("it is {}", again.describe()),
        )
    } else if identity(&marker) != before {
        fail(
            format!(
                "{} is the same file after a second container started",
                marker.display()
            ),
            "it was replaced or removed: the image was extracted again",
        )
    } else {
        Verdict::Pass
    })
}

fn no_copy(ctx: &mut Ctx) -> Result<Verdict> {
    let image_bytes =
        std::fs::metadata(kit::image::tar_path(&ctx.image_dir, &ctx.env.image))?.len();
    let container_dir = ctx.container_dir.clone();
    let (run, held_bytes) = ctx.hold(REPORT, &[], |_| bytes_under(&container_dir))?;
    report_or_fail!(run);
    let Some(bytes) = held_bytes else {
        return Ok(fail("the probe reports and waits", "it did not"));
    };
    // Upper and work dirs hold the container's own changes: a few KiB here. A copy of the
    // image is about the tar's size. Half the tar is far from both.
    Ok(if bytes < image_bytes / 2 {
        Verdict::Pass
    } else {
        fail(
            format!(
                "while the container runs, {} holds only its own changes, far less than the image ({} KiB)",
                container_dir.display(),
                image_bytes / 1024
            ),
            format!(
                "it holds {} KiB: a copy of the image, under the overlay",
                bytes / 1024
            ),
        )
    })
}

/// Bytes in the regular files under `dir`, on its filesystem only (the overlay itself is not
/// counted when the host can see it), without following symlinks.
fn bytes_under(dir: &Path) -> u64 {
    let Ok(top) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.dev() != top.dev() {
                continue;
            }
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

fn cleaned_up(ctx: &mut Ctx) -> Result<Verdict> {
    let run = ctx.probe(REPORT, &[])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_layers_are_read_from_the_overlays_options() {
        let options = r"rw,lowerdir=/images/busybox/rootfs:/snap\134:shots/1,upperdir=/c/id/upper,workdir=/c/id/work,uuid=on";
        assert_eq!(
            overlay_dirs(options, "lowerdir"),
            [
                PathBuf::from("/images/busybox/rootfs"),
                PathBuf::from("/snap:shots/1")
            ]
        );
        assert_eq!(
            overlay_dirs(options, "upperdir"),
            [PathBuf::from("/c/id/upper")]
        );
        // Newer kernels show layers given one by one; a comma or space in a path is escaped.
        let one_by_one = r"rw,lowerdir+=/a\054b,lowerdir+=/with\040space,upperdir=/u";
        assert_eq!(
            overlay_dirs(one_by_one, "lowerdir"),
            [PathBuf::from("/a,b"), PathBuf::from("/with space")]
        );
        assert!(overlay_dirs("rw,size=1m", "lowerdir").is_empty());
    }

    #[test]
    fn the_top_most_mount_on_root_is_the_containers_root() {
        let table = crate::mounts::parse(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n\
             2 1 0:40 / / rw - overlay overlay rw,lowerdir=/img,upperdir=/c/1/upper,workdir=/c/1/work\n",
        );
        let image = Image::of(&table).unwrap();
        assert_eq!(image.layers, [PathBuf::from("/img")]);
        assert!(image.layer_inside(Path::new("/c")).is_none());
        assert!(Image::of(&table[..1]).is_err());
    }
}
