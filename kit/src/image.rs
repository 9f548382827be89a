//! The image store: an image is a plain rootfs tar at `DIR/NAME.tar`.
//!
//! Extraction is defensive: an image is untrusted input, and we extract it as root. A member that
//! would land outside the destination (an absolute path, `..`, a link that climbs out of the root,
//! or a path through a symlink) is refused, never "fixed up".

use crate::BadInput;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// Where image `name` lives in `image_dir`.
pub fn tar_path(image_dir: &Path, name: &str) -> PathBuf {
    image_dir.join(format!("{name}.tar"))
}

/// Finds image `name`, building the demo `busybox` image on first use when `image_dir` is the
/// workspace default. A missing image is bad input (exit 2) with the command that builds it.
pub fn locate(image_dir: &Path, name: &str) -> Result<PathBuf> {
    let tar = tar_path(image_dir, name);
    if tar.is_file() {
        return Ok(tar);
    }
    if name == "busybox" && image_dir == crate::paths::default_image_dir() {
        eprintln!(
            "note: building the busybox image at {} (first use)",
            tar.display()
        );
        crate::builder::build_image(&tar, &crate::builder::ImageSpec::default())?;
        return Ok(tar);
    }
    if name.contains('/') || name.is_empty() {
        return Err(BadInput(format!(
            "image name {name:?} must be a plain name like busybox"
        ))
        .into());
    }
    Err(BadInput(format!(
        "image {name:?} not found: there is no {} (build the demo image with `cargo run -p checker -- image build`)",
        tar.display()
    ))
    .into())
}

/// Extracts image `name` from `image_dir` into `dest` (created if missing).
pub fn extract(image_dir: &Path, name: &str, dest: &Path) -> Result<()> {
    let tar = locate(image_dir, name)?;
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    // Only root can give files away, and in a user namespace (rootless) chown to an id the
    // namespace does not map fails with EINVAL: there the files belong to whoever extracts them.
    let preserve_ownership = nix::unistd::geteuid().is_root() && crate::userns::maps_every_id();
    extract_tar(&tar, dest, preserve_ownership)
        .with_context(|| format!("extracting {} into {}", tar.display(), dest.display()))
}

/// Where [`extract_once`] keeps image `name`: `DIR/NAME/`.
pub fn extracted_dir(image_dir: &Path, name: &str) -> PathBuf {
    image_dir.join(name)
}

/// Extracts image `name` once, into `DIR/NAME/`, and returns that directory; later calls reuse
/// it. The extraction goes to a temporary directory renamed into place, so a container starting
/// at the same moment never sees a half-extracted image.
pub fn extract_once(image_dir: &Path, name: &str) -> Result<PathBuf> {
    let dest = extracted_dir(image_dir, name);
    if dest.is_dir() {
        return Ok(dest);
    }
    // Not the pid: inside a PID namespace every container's extractor is PID 1.
    let tmp = image_dir.join(format!(
        ".{name}.extracting-{}",
        crate::container::new_id()?
    ));
    if let Err(err) = extract(image_dir, name, &tmp) {
        // A refused (hostile) or broken image leaves nothing half-extracted behind.
        let _ = crate::container::remove_dir_on_one_filesystem(&tmp);
        return Err(err);
    }
    if let Err(e) = std::fs::rename(&tmp, &dest) {
        // Another container won the race: use its copy.
        crate::container::remove_dir_on_one_filesystem(&tmp)?;
        if !dest.is_dir() {
            return Err(e)
                .with_context(|| format!("moving the extracted image to {}", dest.display()));
        }
    }
    Ok(dest)
}

/// A member of the tar that would escape the destination.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("refusing tar member {member:?}: {why}")]
pub struct UnsafeMember {
    pub member: String,
    pub why: &'static str,
}

/// Extracts `tar` into the existing directory `dest`, refusing any member that would escape it.
pub fn extract_tar(tar: &Path, dest: &Path, preserve_ownership: bool) -> Result<()> {
    let file = File::open(tar).with_context(|| format!("opening {}", tar.display()))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(preserve_ownership);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let member = entry.path()?.into_owned();
        let link = entry.link_name()?.map(|l| l.into_owned());
        check_member(&member, entry.header().entry_type(), link.as_deref())?;
        if goes_through_symlink(dest, &member) {
            return Err(unsafe_member(
                &member,
                "it would be written through a symlink the image made",
            )
            .into());
        }
        // unpack_in also refuses to write through a symlink that points outside `dest`.
        if !entry
            .unpack_in(dest)
            .with_context(|| format!("unpacking {}", member.display()))?
        {
            return Err(
                unsafe_member(&member, "it would be written outside the destination").into(),
            );
        }
    }
    Ok(())
}

/// Whether a directory on the way to `member` under `dest` is a symlink (`link -> /etc`, then
/// `link/passwd`): writing there would follow it out of the image.
fn goes_through_symlink(dest: &Path, member: &Path) -> bool {
    let mut at = dest.to_path_buf();
    let parents = member.parent().map(Path::components).into_iter().flatten();
    for part in parents {
        at.push(part);
        if at
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return true;
        }
    }
    false
}

fn unsafe_member(member: &Path, why: &'static str) -> UnsafeMember {
    UnsafeMember {
        member: member.display().to_string(),
        why,
    }
}

/// Decides whether one member may be extracted.
pub fn check_member(
    member: &Path,
    kind: tar::EntryType,
    link: Option<&Path>,
) -> Result<(), UnsafeMember> {
    if member.is_absolute() {
        return Err(unsafe_member(
            member,
            "absolute paths are not allowed in an image",
        ));
    }
    if member.components().any(|c| c == Component::ParentDir) {
        return Err(unsafe_member(member, "`..` would climb out of the root"));
    }
    let parent = member.parent().unwrap_or(Path::new(""));
    match (kind, link) {
        // A hard link names another member: it must stay inside the image.
        (tar::EntryType::Link, Some(target))
            if target.is_absolute() || climbs_out(Path::new(""), target) =>
        {
            Err(unsafe_member(
                member,
                "hard link to a file outside the image",
            ))
        }
        // An absolute symlink is fine: it is resolved inside the container's root at run time
        // (`/bin/sh -> /bin/busybox`). A relative one must not climb above the image's root.
        (tar::EntryType::Symlink, Some(target))
            if !target.is_absolute() && climbs_out(parent, target) =>
        {
            Err(unsafe_member(
                member,
                "symlink that points above the image's root",
            ))
        }
        _ => Ok(()),
    }
}

/// Whether `target`, resolved from directory `dir` (both relative to the root), goes above the root.
fn climbs_out(dir: &Path, target: &Path) -> bool {
    let mut depth = dir
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::{EntryType, Header};

    /// Builds a tar in memory from (path, type, link target, content) and writes it to a file.
    fn tar_with(dir: &Path, members: &[(&str, EntryType, Option<&str>, &[u8])]) -> PathBuf {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, link, data) in members {
            let mut h = Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            h.set_size(data.len() as u64);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            // Header::set_path refuses `..` and absolute paths, so write the raw name bytes.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(l) = link {
                h.set_link_name_literal(l).unwrap();
            }
            h.set_cksum();
            builder.append(&h, *data).unwrap();
        }
        let file = dir.join("image.tar");
        std::fs::write(&file, builder.into_inner().unwrap()).unwrap();
        file
    }

    fn extract_members(
        members: &[(&str, EntryType, Option<&str>, &[u8])],
    ) -> (tempfile::TempDir, Result<()>) {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tar_with(tmp.path(), members);
        let dest = tmp.path().join("rootfs");
        std::fs::create_dir(&dest).unwrap();
        let result = extract_tar(&tar, &dest, false);
        (tmp, result)
    }

    #[test]
    fn a_normal_image_extracts_with_its_links() {
        let (tmp, result) = extract_members(&[
            ("bin/", EntryType::Directory, None, b""),
            ("bin/busybox", EntryType::Regular, None, b"#!"),
            ("bin/sh", EntryType::Symlink, Some("/bin/busybox"), b""),
            ("bin/ls", EntryType::Symlink, Some("busybox"), b""),
            ("bin/cat", EntryType::Link, Some("bin/busybox"), b""),
        ]);
        result.unwrap();
        let root = tmp.path().join("rootfs");
        assert_eq!(std::fs::read(root.join("bin/cat")).unwrap(), b"#!");
        assert_eq!(
            std::fs::read_link(root.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
    }

    fn refusal(members: &[(&str, EntryType, Option<&str>, &[u8])]) -> String {
        let (tmp, result) = extract_members(members);
        let err = result.expect_err("extraction should have been refused");
        // Nothing may have been written next to the destination.
        assert!(!tmp.path().join("escaped").exists());
        format!("{err:#}")
    }

    #[test]
    fn an_image_is_extracted_once_and_then_reused() {
        let tmp = tempfile::tempdir().unwrap();
        tar_with(tmp.path(), &[("marker", EntryType::Regular, None, b"one")]);
        std::fs::rename(tmp.path().join("image.tar"), tmp.path().join("img.tar")).unwrap();
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(dir, tmp.path().join("img"));
        let inode =
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dir.join("marker")).unwrap());
        // A second call finds it: same file, not a new extraction.
        let again = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(
            std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(again.join("marker")).unwrap()),
            inode
        );
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "only img.tar and img/ are left: {names:?}");
    }

    #[test]
    fn absolute_members_are_refused() {
        assert!(refusal(&[("/escaped", EntryType::Regular, None, b"x")]).contains("absolute"));
    }

    #[test]
    fn dot_dot_members_are_refused() {
        assert!(refusal(&[("a/../../escaped", EntryType::Regular, None, b"x")]).contains("`..`"));
    }

    #[test]
    fn symlinks_climbing_out_are_refused() {
        let msg = refusal(&[("bin/evil", EntryType::Symlink, Some("../../escaped"), b"")]);
        assert!(msg.contains("above the image's root"), "{msg}");
    }

    #[test]
    fn hard_links_out_of_the_image_are_refused() {
        assert!(
            refusal(&[("etc/shadow", EntryType::Link, Some("/etc/shadow"), b"")])
                .contains("hard link")
        );
        assert!(refusal(&[("a", EntryType::Link, Some("../escaped"), b"")]).contains("hard link"));
    }

    #[test]
    fn writing_through_an_absolute_symlink_is_refused() {
        // `link -> <tmp>` then `link/escaped` would write to <tmp>/escaped on the host.
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().to_str().unwrap().to_string();
        let tar = tar_with(
            tmp.path(),
            &[
                ("link", EntryType::Symlink, Some(&target), b""),
                ("link/escaped", EntryType::Regular, None, b"x"),
            ],
        );
        let dest = tmp.path().join("rootfs");
        std::fs::create_dir(&dest).unwrap();
        let err = extract_tar(&tar, &dest, false).unwrap_err();
        assert!(!tmp.path().join("escaped").exists());
        // Refused as an unsafe image (exit 2), not as a failure of the runtime (125).
        assert!(err.is::<UnsafeMember>(), "{err:#}");
        assert!(format!("{err:#}").contains("through a symlink"), "{err:#}");
    }

    #[test]
    fn a_refused_image_leaves_nothing_half_extracted() {
        let tmp = tempfile::tempdir().unwrap();
        tar_with(
            tmp.path(),
            &[
                ("bin/", EntryType::Directory, None, b""),
                ("bin/ok", EntryType::Regular, None, b"x"),
                ("../escaped", EntryType::Regular, None, b"x"),
            ],
        );
        std::fs::rename(tmp.path().join("image.tar"), tmp.path().join("bad.tar")).unwrap();
        let err = extract_once(tmp.path(), "bad").unwrap_err();
        assert!(crate::is_bad_input(&err), "{err:#}");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["bad.tar"], "only the image is left");
    }

    #[test]
    fn climbing_is_measured_from_the_links_directory() {
        assert!(!climbs_out(Path::new("usr/bin"), Path::new("../../bin/sh")));
        assert!(climbs_out(
            Path::new("usr/bin"),
            Path::new("../../../bin/sh")
        ));
        assert!(climbs_out(Path::new(""), Path::new("..")));
        assert!(!climbs_out(Path::new("a"), Path::new("b/../../c")));
    }
}
