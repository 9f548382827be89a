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
    // First, always: a name like `../x` or `/tmp/x` would put the tar, and level 7's extracted
    // copy, outside the image dir.
    crate::cli::check_image_name(name).map_err(BadInput)?;
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
    Err(BadInput(format!(
        "image {name:?} not found: there is no {} (build the demo image with `cargo run -p checker -- image build`)",
        tar.display()
    ))
    .into())
}

/// Extracts image `name` from `image_dir` into `dest` (created if missing).
pub fn extract(image_dir: &Path, name: &str, dest: &Path) -> Result<()> {
    let tar = locate(image_dir, name)?;
    // Read it all before anything is created: a file that is not a tar, or a hostile one, is
    // refused with nothing to clean up.
    survey(&tar).with_context(|| format!("image {}", tar.display()))?;
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    // Only root can give files away, and in a user namespace (rootless) chown to an id the
    // namespace does not map fails with EINVAL: there the files belong to whoever extracts them.
    let preserve_ownership = nix::unistd::geteuid().is_root() && crate::userns::maps_every_id();
    unpack(&tar, dest, preserve_ownership)
        .with_context(|| format!("extracting {} into {}", tar.display(), dest.display()))
}

/// Where [`extract_once`] keeps image `name`: `DIR/NAME/`.
pub fn extracted_dir(image_dir: &Path, name: &str) -> PathBuf {
    image_dir.join(name)
}

/// Extracts image `name` once and returns `DIR/NAME/`; later calls reuse it, until the tar is
/// replaced. `DIR/NAME` is a symlink to `DIR/.NAME.<key>/`, where the key is the tar's identity
/// (device, inode, size and mtime): a tar rebuilt or copied over is a new key, extracted
/// again, and a container still running on the old copy keeps it. The extraction goes to a
/// temporary directory renamed into place, and the symlink is replaced by a rename too, so a
/// container starting at the same moment never sees a half-extracted image.
pub fn extract_once(image_dir: &Path, name: &str) -> Result<PathBuf> {
    let tar = locate(image_dir, name)?;
    let dest = extracted_dir(image_dir, name);
    let version = format!(".{name}.{}", identity(&tar)?);
    let current = std::fs::read_link(&dest).ok();
    if current.as_deref() == Some(Path::new(&version)) && image_dir.join(&version).is_dir() {
        return Ok(dest);
    }
    // Not the pid: inside a PID namespace every container's extractor is PID 1.
    let unique = crate::container::new_id()?;
    let tmp = image_dir.join(format!(".{name}.extracting-{unique}"));
    if let Err(err) = extract(image_dir, name, &tmp) {
        // A refused (hostile) or broken image leaves nothing half-extracted behind.
        let _ = crate::container::remove_dir_on_one_filesystem(&tmp);
        return Err(err);
    }
    let versioned = image_dir.join(&version);
    if let Err(e) = std::fs::rename(&tmp, &versioned) {
        // Another container won the race: use its copy.
        crate::container::remove_dir_on_one_filesystem(&tmp)?;
        if !versioned.is_dir() {
            return Err(e)
                .with_context(|| format!("moving the extracted image to {}", versioned.display()));
        }
    }
    point_at(&dest, &version, &unique)?;
    Ok(dest)
}

/// Removes image `name`'s extracted copies (`DIR/NAME` and every `DIR/.NAME.<key>/`): for a tar
/// being rebuilt. A container still running on one loses its files: rebuild between runs.
pub fn remove_extracted(image_dir: &Path, name: &str) -> Result<()> {
    let prefix = format!(".{name}.");
    let copies = std::fs::read_dir(image_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|file| {
            file.strip_prefix(&prefix)
                .is_some_and(|key| key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit()))
        });
    for copy in copies {
        crate::container::remove_dir_on_one_filesystem(&image_dir.join(copy))?;
    }
    crate::container::remove_dir_on_one_filesystem(&extracted_dir(image_dir, name))
}

/// Makes `dest` a symlink to `version` (a name beside it), atomically: a new link renamed over
/// the old one. A directory in the way (an extraction made before copies were keyed) is
/// moved aside and removed.
fn point_at(dest: &Path, version: &str, unique: &str) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let is_dir = dest
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_dir());
    if is_dir {
        let aside = dir.join(format!(".stale-{unique}"));
        std::fs::rename(dest, &aside)
            .with_context(|| format!("moving the stale {} aside", dest.display()))?;
        crate::container::remove_dir_on_one_filesystem(&aside)?;
    }
    let link = dir.join(format!(".link-{unique}"));
    std::os::unix::fs::symlink(version, &link)
        .with_context(|| format!("creating {}", link.display()))?;
    std::fs::rename(&link, dest).with_context(|| format!("replacing {}", dest.display()))
}

/// The tar's identity, as 16 hex digits: a hash (FNV-1a) of its device, inode, size and mtime.
/// A replaced or rewritten tar changes at least one of them; reading its content (a real hash)
/// would make every start as slow as the image is big. Not the ctime: a new hard link to the
/// same tar (as every check of the checker makes) changes it, and the image is the same.
fn identity(tar: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(tar).with_context(|| format!("inspecting {}", tar.display()))?;
    let fields = [
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime() as u64,
        m.mtime_nsec() as u64,
    ];
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in fields.iter().flat_map(|f| f.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{hash:016x}"))
}

/// A member of the tar that would escape the destination.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("refusing tar member {member:?}: {why}")]
pub struct UnsafeMember {
    pub member: String,
    pub why: &'static str,
}

/// A file given as an image that is not a tar: empty, truncated, or something else.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("not a tar image: {why} (rebuild it, e.g. `cargo run -p checker -- image build`)")]
pub struct NotATar {
    pub tar: String,
    pub why: String,
}

/// Extracts `tar` into the existing directory `dest`, refusing any member that would escape it.
/// The whole tar is read once first ([`survey`]): a file that is not a tar, or a tar whose
/// members contradict each other, is refused before anything is written.
pub fn extract_tar(tar: &Path, dest: &Path, preserve_ownership: bool) -> Result<()> {
    survey(tar)?;
    unpack(tar, dest, preserve_ownership)
}

/// Extracts a surveyed tar, member by member, each checked again as it is written.
fn unpack(tar: &Path, dest: &Path, preserve_ownership: bool) -> Result<()> {
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

/// What a member made: the survey's record of each path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    Dir,
    Symlink,
    File,
}

/// Reads every header of `tar` (skipping the contents) and refuses, before anything is written:
/// a file that is not a tar (empty, truncated, garbage: [`NotATar`]), a member that would escape
/// ([`check_member`]), and members that contradict each other ([`UnsafeMember`]): a symlink or
/// a file over a directory, a directory over a symlink or a file, anything (a member, or a hard
/// link's target) reached through a symlink the image made. Extracting those would replace or
/// follow what an earlier member made: refused, never "fixed up".
pub fn survey(tar: &Path) -> Result<()> {
    // tar's own message, up to any quoted bytes of the garbage it read: one line.
    let not_a_tar = |why: String| NotATar {
        tar: tar.display().to_string(),
        why: why
            .split(": ")
            .next()
            .unwrap_or_default()
            .replace(char::is_control, " "),
    };
    let file = File::open(tar).with_context(|| format!("opening {}", tar.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut made: std::collections::HashMap<PathBuf, Made> = std::collections::HashMap::new();
    let mut members = 0usize;
    let entries = archive.entries().map_err(|e| not_a_tar(e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| not_a_tar(e.to_string()))?;
        let member = entry.path().map_err(|e| not_a_tar(e.to_string()))?;
        let member = normal(&member);
        let kind = entry.header().entry_type();
        let link = entry
            .link_name()
            .map_err(|e| not_a_tar(e.to_string()))?
            .map(|l| l.into_owned());
        check_member(&member, kind, link.as_deref())?;
        members += 1;
        if member.as_os_str().is_empty() {
            continue; // `./`: the root itself
        }
        let through = |path: &Path| {
            path.ancestors()
                .skip(1)
                .any(|a| made.get(a) == Some(&Made::Symlink))
        };
        if through(&member) {
            return Err(unsafe_member(
                &member,
                "it would be written through a symlink the image made",
            )
            .into());
        }
        if let (tar::EntryType::Link, Some(target)) = (kind, &link) {
            let target = normal(target);
            if through(&target) {
                return Err(
                    unsafe_member(&member, "hard link through a symlink the image made").into(),
                );
            }
        }
        let now = match kind {
            tar::EntryType::Directory => Made::Dir,
            tar::EntryType::Symlink => Made::Symlink,
            _ => Made::File,
        };
        match (made.get(&member), now) {
            (Some(Made::Dir), Made::Symlink | Made::File) => {
                return Err(
                    unsafe_member(&member, "it would replace a directory the image made").into(),
                )
            }
            (Some(Made::Symlink | Made::File), Made::Dir) => {
                return Err(unsafe_member(
                    &member,
                    "a directory over a link or file the image made",
                )
                .into())
            }
            _ => {}
        }
        // The directories on the way exist now, made or implied.
        for parent in member.ancestors().skip(1) {
            if !parent.as_os_str().is_empty() {
                made.entry(parent.to_path_buf()).or_insert(Made::Dir);
            }
        }
        made.insert(member, now);
    }
    if members == 0 {
        return Err(not_a_tar("it holds no files".into()).into());
    }
    Ok(())
}

/// A member's path without `./` and trailing `/`: `./bin/` and `bin` are the same path.
fn normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| {
            matches!(
                c,
                Component::Normal(_) | Component::ParentDir | Component::RootDir
            )
        })
        .collect()
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
        assert_eq!(
            names.len(),
            3,
            "only img.tar, img and its copy are left: {names:?}"
        );
    }

    #[test]
    fn a_replaced_tar_is_extracted_again() {
        let tmp = tempfile::tempdir().unwrap();
        let image = |content: &[u8]| {
            tar_with(tmp.path(), &[("marker", EntryType::Regular, None, content)]);
            // Renamed over the old one: a new inode, as `cp new.tar img.tar` after `rm` makes.
            std::fs::rename(tmp.path().join("image.tar"), tmp.path().join("img.tar")).unwrap();
        };
        image(b"one");
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"one");
        image(b"two");
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"two");
        // Both copies are there (a container may still run on the first); a rebuild removes them.
        let count = || std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(count(), 4, "img.tar, img and two copies");
        remove_extracted(tmp.path(), "img").unwrap();
        assert_eq!(count(), 1, "only img.tar");
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"two");
        // Written in place (same inode, same size): the mtime tells (set, not waited for).
        let tar = std::fs::read(tmp.path().join("img.tar")).unwrap();
        let mut other = tar.clone();
        let at = other.windows(3).position(|w| w == b"two").unwrap();
        other[at..at + 3].copy_from_slice(b"six");
        std::fs::write(tmp.path().join("img.tar"), &other).unwrap();
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        let file = std::fs::File::options()
            .write(true)
            .open(tmp.path().join("img.tar"))
            .unwrap();
        file.set_modified(when).unwrap();
        // Leave the header checksum alone: the content is not in it.
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"six");
        // A new hard link changes the tar's ctime, not the image: the same copy is reused (the
        // checker links the tar into every check's image dir, while other checks run).
        let key = std::fs::read_link(tmp.path().join("img")).unwrap();
        std::fs::hard_link(tmp.path().join("img.tar"), tmp.path().join("link.tar")).unwrap();
        extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read_link(tmp.path().join("img")).unwrap(), key);
    }

    #[test]
    fn an_extraction_from_before_keys_is_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        tar_with(tmp.path(), &[("marker", EntryType::Regular, None, b"new")]);
        std::fs::rename(tmp.path().join("image.tar"), tmp.path().join("img.tar")).unwrap();
        std::fs::create_dir(tmp.path().join("img")).unwrap();
        std::fs::write(tmp.path().join("img/marker"), "old").unwrap();
        let dir = extract_once(tmp.path(), "img").unwrap();
        assert_eq!(std::fs::read(dir.join("marker")).unwrap(), b"new");
    }

    #[test]
    fn a_name_that_leaves_the_image_dir_is_refused_even_when_its_tar_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let images = tmp.path().join("images");
        std::fs::create_dir(&images).unwrap();
        tar_with(tmp.path(), &[("marker", EntryType::Regular, None, b"x")]);
        let abs = tmp.path().join("image");
        for name in ["../image", abs.to_str().unwrap()] {
            let err = extract_once(&images, name).unwrap_err();
            assert!(crate::is_bad_input(&err), "{err:#}");
            let err = extract(&images, name, &tmp.path().join("rootfs")).unwrap_err();
            assert!(crate::is_bad_input(&err), "{err:#}");
        }
        assert_eq!(std::fs::read_dir(&images).unwrap().count(), 0);
        assert!(!tmp.path().join("rootfs").exists());
    }

    /// The error of extracting a file of `bytes` as an image, which must be "not a tar image".
    fn not_a_tar(bytes: &[u8]) -> String {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("bad.tar"), bytes).unwrap();
        let err = extract_once(tmp.path(), "bad").unwrap_err();
        assert!(crate::is_bad_input(&err), "{err:#}");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "only the tar is left: {names:?}");
        let msg = format!("{err:#}");
        assert!(
            msg.contains("not a tar image") && !msg.contains('\n'),
            "{msg}"
        );
        msg
    }

    #[test]
    fn a_file_that_is_not_a_tar_is_bad_input() {
        assert!(not_a_tar(b"").contains("holds no files"));
        let garbage: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
        not_a_tar(&garbage);
        let garbage: Vec<u8> = (0..2048u32).map(|i| (i * 37 + 11) as u8).collect();
        not_a_tar(&garbage);
        let tmp = tempfile::tempdir().unwrap();
        let tar = tar_with(
            tmp.path(),
            &[("big", EntryType::Regular, None, &[7u8; 4096])],
        );
        let whole = std::fs::read(tar).unwrap();
        not_a_tar(&whole[..300]); // in the header
        not_a_tar(&whole[..2000]); // in the content
    }

    #[test]
    fn members_that_contradict_each_other_are_refused() {
        // A symlink over a directory the image made: what was written below it would move.
        let msg = refusal(&[
            ("etc/", EntryType::Directory, None, b""),
            ("etc", EntryType::Symlink, Some("/tmp"), b""),
        ]);
        assert!(msg.contains("replace a directory"), "{msg}");
        // A symlink, then a directory at the same path.
        let msg = refusal(&[
            ("lib", EntryType::Symlink, Some("usr/lib"), b""),
            ("lib/", EntryType::Directory, None, b""),
        ]);
        assert!(msg.contains("a directory over a link"), "{msg}");
        // A hard link through a symlink: `l -> /etc`, then `x` linked to `l/passwd`.
        let msg = refusal(&[
            ("l", EntryType::Symlink, Some("/etc"), b""),
            ("x", EntryType::Link, Some("l/passwd"), b""),
        ]);
        assert!(msg.contains("hard link through a symlink"), "{msg}");
        // An implied directory (`a/` from `a/f`) replaced by a symlink.
        let msg = refusal(&[
            ("a/f", EntryType::Regular, None, b"x"),
            ("a", EntryType::Symlink, Some("/"), b""),
        ]);
        assert!(msg.contains("replace a directory"), "{msg}");
    }

    #[test]
    fn a_refused_survey_writes_nothing() {
        let (tmp, result) = extract_members(&[
            ("bin/", EntryType::Directory, None, b""),
            ("bin/ok", EntryType::Regular, None, b"x"),
            ("lib", EntryType::Symlink, Some("usr/lib"), b""),
            ("lib/", EntryType::Directory, None, b""),
        ]);
        let err = result.unwrap_err();
        assert!(crate::is_bad_input(&err), "{err:#}");
        assert_eq!(
            std::fs::read_dir(tmp.path().join("rootfs"))
                .unwrap()
                .count(),
            0
        );
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
