#!/usr/bin/env bash
# Makes a Debian or Ubuntu machine (a Lima or Multipass VM, WSL2, a cloud VM) ready for the
# workshop: the Debian packages, Rust with rustfmt, the checker built, then `checker doctor`.
# Run it from the repository, as yourself (it uses sudo for what needs root) or as root. Each
# step is done only if needed: run it again any time.
#
#   vm/provision.sh             do it
#   vm/provision.sh --dry-run   say what it would do, change nothing
#   vm/provision.sh --no-build  only the packages and Rust (cloud-init, before the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=false
build=true
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    --no-build) build=false ;;
    *) echo "usage: vm/provision.sh [--dry-run] [--no-build]" >&2; exit 2 ;;
  esac
done

# What the levels and the checker need: a C toolchain for Rust's linker, busybox-static for the
# demo image's shell, iproute2 for the network levels, curl to fetch rustup and send reports.
PACKAGES=(build-essential busybox-static ca-certificates curl git iproute2)

say() { echo "provision: $*"; }
# Runs "$@", or only shows it with --dry-run.
run() {
  echo "+ $*"
  if ! $dry_run; then "$@"; fi
}
# Runs "$@" as root: directly as root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    run "$@"
  elif command -v sudo >/dev/null; then
    run sudo "$@"
  else
    echo "provision: this needs root and there is no sudo: run vm/provision.sh as root" >&2
    exit 3
  fi
}

if ! grep -qsE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; then
  echo "provision: this script knows Debian and Ubuntu (apt); install by hand: ${PACKAGES[*]}, rustup" >&2
  exit 2
fi
if [ "$(uname -s)" != Linux ]; then
  echo "provision: run this inside the Linux VM, not on the host" >&2
  exit 2
fi

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "packages: ${PACKAGES[*]} already installed"
else
  say "packages: installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust for this user, from rustup (Debian's own cargo is too old for some crates).
export PATH="$HOME/.cargo/bin:$PATH"
if command -v cargo >/dev/null && command -v rustup >/dev/null; then
  say "rust: $(cargo --version) already installed"
elif command -v cargo >/dev/null; then
  say "rust: $(cargo --version), not from rustup: make sure it is recent and has rustfmt"
else
  say "rust: installing with rustup"
  run sh -c 'curl --proto "=https" --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt'
fi
if command -v rustup >/dev/null && ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
  run rustup component add rustfmt
fi

# Linux 5.10 or later: the checker and the levels rely on it.
IFS=. read -r major minor _ <<<"$(uname -r)"
if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -lt 10 ]; }; then
  say "warning: Linux $(uname -r) is older than 5.10: some levels will not run (see below)"
fi

if ! $build; then
  say "done (--no-build): now, from the repository, vm/provision.sh"
  exit 0
fi
say "building the checker (cargo downloads every crate now, while there is network)"
run cargo build --workspace
say "checking the machine: checker doctor"
if [ "$(id -u)" = 0 ]; then
  run target/debug/checker doctor
else
  as_root env "PATH=$PATH" target/debug/checker doctor
fi
