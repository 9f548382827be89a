//! Builds images from what the host has: no registry, no network.
//!
//! With busybox-static installed (`/bin/busybox`), the image is busybox plus a symlink per applet.
//! Without it, the host's own `sh`, `ls`, `cat`, ... are copied with the shared libraries `ldd`
//! names, so a fresh machine with nothing extra installed still gets a working shell.

use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The marker file every image carries at its root.
pub const MARKER_PATH: &str = "rubber-crab-image";

/// What goes into an image besides the shell tools.
#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    /// Host files to copy in, as (path inside the image, host path). Copied as executables.
    pub extra_files: Vec<(PathBuf, PathBuf)>,
    /// Empty directories to create, as paths inside the image.
    pub extra_dirs: Vec<PathBuf>,
    /// Content of `/rubber-crab-image`; a default line when empty.
    pub marker: String,
    /// With busybox, a link for [`IMAGE_TOOLS`] alone rather than for each of its ~270 applets:
    /// the tools the host flavour has. The checker's image: a level 1-6 runtime extracts a fresh
    /// copy at every start, and the links were most of the files it made and removed again.
    pub only_image_tools: bool,
}

/// Where the tools came from, for the report an instructor sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolset {
    Busybox(PathBuf),
    HostBinaries(Vec<PathBuf>),
}

const BUSYBOX_CANDIDATES: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// Every tool a guide, hint or demo runs inside a container, as `/bin/<name>` in either flavour
/// of image: busybox has them all as applets; without it, these are copied from the host. The
/// guides' transcripts run with both flavours (`cargo test -p xtask`), so a tool they use that
/// is missing here fails them with "not found".
pub const IMAGE_TOOLS: &[&str] = &[
    "sh", "ls", "cat", "ps", "mount", "hostname", "ip", "id", "echo", "mkdir", "rm", "sleep",
    "head", "od", "grep", "readlink", "sed", "printf", "true", "pwd",
];

/// Set to `host`, images are built from the host's tools even where busybox is installed: the
/// guides' transcripts are tested with both flavours of image.
pub const TOOLS_ENV: &str = "RUBBER_CRAB_IMAGE_TOOLS";

/// Builds the image tar at `tar` (atomically: a half-built image is never visible).
pub fn build_image(tar: &Path, spec: &ImageSpec) -> Result<Toolset> {
    let host_only = std::env::var_os(TOOLS_ENV).is_some_and(|v| v == "host");
    build_image_from(tar, spec, if host_only { &[] } else { BUSYBOX_CANDIDATES })
}

/// [`build_image`], looking for busybox only at `busybox_candidates`.
fn build_image_from(tar: &Path, spec: &ImageSpec, busybox_candidates: &[&str]) -> Result<Toolset> {
    let dir = tar.parent().context("image path has no parent directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let staging = dir.join(format!(".staging-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    let result = populate(&staging, spec, busybox_candidates).and_then(|toolset| {
        write_tar(&staging, tar)?;
        Ok(toolset)
    });
    let _ = fs::remove_dir_all(&staging);
    // A copy extracted from the previous tar (image::extract_once) is stale now.
    if let (Ok(_), Some(stem)) = (&result, tar.file_stem()) {
        crate::image::remove_extracted(dir, &stem.to_string_lossy())?;
    }
    result
}

fn populate(root: &Path, spec: &ImageSpec, busybox_candidates: &[&str]) -> Result<Toolset> {
    for d in [
        "bin", "dev", "etc", "proc", "sys", "tmp", "root", "mnt", "home",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    let marker = if spec.marker.is_empty() {
        "rubber-crab busybox image\n".to_string()
    } else {
        spec.marker.clone()
    };
    fs::write(root.join(MARKER_PATH), marker)?;
    let toolset = match busybox_candidates
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
    {
        Some(busybox) => install_busybox(root, busybox, spec.only_image_tools)?,
        None => install_host_tools(root)?,
    };
    for inside in &spec.extra_dirs {
        fs::create_dir_all(root.join(inside.strip_prefix("/").unwrap_or(inside)))?;
    }
    for (inside, host) in &spec.extra_files {
        let dest = root.join(inside.strip_prefix("/").unwrap_or(inside));
        copy_executable(host, &dest)?;
    }
    Ok(toolset)
}

fn install_busybox(root: &Path, busybox: &Path, only_image_tools: bool) -> Result<Toolset> {
    copy_with_libraries(root, busybox, &root.join("bin/busybox"))?;
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .context("running busybox --list")?;
    for applet in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox")
        .filter(|a| !only_image_tools || IMAGE_TOOLS.contains(a))
    {
        // Relative links keep working wherever the rootfs is looked at from.
        let _ = symlink("busybox", root.join("bin").join(applet));
    }
    Ok(Toolset::Busybox(busybox.to_path_buf()))
}

fn install_host_tools(root: &Path) -> Result<Toolset> {
    let mut found = Vec::new();
    for tool in IMAGE_TOOLS {
        let Some(host) = which(tool) else { continue };
        copy_with_libraries(root, &host, &root.join("bin").join(tool))?;
        found.push(host);
    }
    if !found.iter().any(|p| p.ends_with("sh")) {
        bail!("no busybox and no host /bin/sh to build an image from: install busybox-static (apt-get install busybox-static)");
    }
    Ok(Toolset::HostBinaries(found))
}

fn which(tool: &str) -> Option<PathBuf> {
    ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(tool))
        .find(|p| p.is_file())
}

/// Copies a binary and, when it is dynamically linked, the libraries and loader `ldd` names, at
/// the same paths inside the image.
fn copy_with_libraries(root: &Path, host: &Path, dest: &Path) -> Result<()> {
    copy_executable(host, dest)?;
    for lib in shared_libraries(host)? {
        let inside = root.join(lib.strip_prefix("/").unwrap_or(&lib));
        if !inside.exists() {
            copy_executable(&lib, &inside)?;
        }
    }
    Ok(())
}

fn copy_executable(host: &Path, dest: &Path) -> Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent)?;
    }
    // fs::copy follows symlinks, so a library symlink becomes the real file under the link's name.
    fs::copy(host, dest).with_context(|| format!("copying {} into the image", host.display()))?;
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The absolute library paths `ldd` prints for `binary`; empty for a static binary.
fn shared_libraries(binary: &Path) -> Result<BTreeSet<PathBuf>> {
    let out = match Command::new("ldd").arg(binary).output() {
        Ok(out) => out,
        Err(_) => return Ok(BTreeSet::new()), // no ldd: assume static
    };
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ldd` output: `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; skips the vdso and "not a dynamic executable".
pub fn parse_ldd(output: &str) -> BTreeSet<PathBuf> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn write_tar(root: &Path, tar: &Path) -> Result<()> {
    let tmp = tar.with_extension(format!("tar.tmp{}", std::process::id()));
    let file = fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut builder = tar::Builder::new(file);
    builder.follow_symlinks(false);
    builder.append_dir_all(".", root)?;
    builder.into_inner()?.sync_all()?;
    fs::rename(&tmp, tar)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_absolute_library_paths() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let libs: Vec<_> = parse_ldd(out).into_iter().collect();
        assert_eq!(
            libs,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
        assert!(parse_ldd("\tstatically linked\n").is_empty());
    }

    #[test]
    fn without_busybox_the_hosts_tools_come_with_their_libraries() {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("host.tar");
        let toolset = build_image_from(&tar, &ImageSpec::default(), &[]).unwrap();
        let Toolset::HostBinaries(tools) = toolset else {
            panic!("expected host binaries, got {toolset:?}")
        };
        assert!(tools.iter().any(|t| t.ends_with("sh")));
        let root = tmp.path().join("rootfs");
        fs::create_dir(&root).unwrap();
        crate::image::extract_tar(&tar, &root, false).unwrap();
        // Every library the host's sh needs is in the image, at the same path.
        for lib in shared_libraries(&root.join("bin/sh")).unwrap() {
            assert!(
                root.join(lib.strip_prefix("/").unwrap()).exists(),
                "{} missing from the image",
                lib.display()
            );
        }
    }

    /// The tools of an image built with (`busybox`) or without (`&[]`) busybox missing from
    /// its /bin, and how many entries /bin has.
    fn tools_in_image(busybox_candidates: &[&str], only_image_tools: bool) -> (Vec<String>, usize) {
        let tmp = tempfile::tempdir().unwrap();
        let tar = tmp.path().join("image.tar");
        let spec = ImageSpec {
            only_image_tools,
            ..ImageSpec::default()
        };
        build_image_from(&tar, &spec, busybox_candidates).unwrap();
        let root = tmp.path().join("rootfs");
        fs::create_dir(&root).unwrap();
        crate::image::extract_tar(&tar, &root, false).unwrap();
        let missing = IMAGE_TOOLS
            .iter()
            .filter(|tool| !root.join("bin").join(tool).exists())
            .map(|tool| tool.to_string())
            .collect();
        (missing, fs::read_dir(root.join("bin")).unwrap().count())
    }

    #[test]
    fn without_busybox_the_image_has_every_tool_the_guides_use() {
        // The host must have them to copy them: a tool the host lacks is no fault of ours.
        let missing: Vec<String> = tools_in_image(&[], false)
            .0
            .into_iter()
            .filter(|tool| which(tool).is_some())
            .collect();
        assert!(
            missing.is_empty(),
            "missing from the host-tools image: {missing:?}"
        );
    }

    #[test]
    fn with_busybox_the_image_has_every_tool_the_guides_use() {
        if !BUSYBOX_CANDIDATES.iter().any(|p| Path::new(p).is_file()) {
            eprintln!("skipped: no busybox on this host (apt-get install busybox-static)");
            return;
        }
        let (missing, every) = tools_in_image(BUSYBOX_CANDIDATES, false);
        assert!(
            missing.is_empty(),
            "missing from the busybox image: {missing:?}"
        );
        // The checker's image: busybox and a link per tool, nothing more.
        let (missing, only) = tools_in_image(BUSYBOX_CANDIDATES, true);
        assert!(missing.is_empty(), "missing: {missing:?}");
        assert_eq!(only, IMAGE_TOOLS.len() + 1);
        assert!(every > only, "every applet: {every} entries in /bin");
    }

    #[test]
    fn an_image_has_a_shell_the_marker_and_the_extra_files() {
        let tmp = tempfile::tempdir().unwrap();
        let extra = tmp.path().join("tool");
        fs::write(&extra, "#!/bin/sh\n").unwrap();
        let spec = ImageSpec {
            extra_files: vec![("/opt/tool".into(), extra)],
            extra_dirs: vec!["/scratch".into()],
            marker: "nonce-123\n".into(),
            only_image_tools: false,
        };
        let tar = tmp.path().join("images/test.tar");
        build_image(&tar, &spec).unwrap();
        let root = tmp.path().join("rootfs");
        fs::create_dir(&root).unwrap();
        crate::image::extract_tar(&tar, &root, false).unwrap();
        assert_eq!(
            fs::read_to_string(root.join(MARKER_PATH)).unwrap(),
            "nonce-123\n"
        );
        assert!(root.join("bin/sh").exists(), "no /bin/sh in the image");
        assert!(root.join("opt/tool").is_file());
        assert!(root.join("scratch").is_dir());
        assert!(root.join("proc").is_dir() && root.join("dev").is_dir());
        let left: Vec<_> = fs::read_dir(tmp.path().join("images"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            left,
            ["test.tar"],
            "only the image is left in the image dir"
        );
    }
}
