#!/usr/bin/env bash
# Tests vm/: the script's syntax, a dry run and a real run of its non-building part on this
# machine (twice: the second changes nothing), the YAML files parse and list the script's
# packages, and the README's commands are the ones in these files.
set -euo pipefail
cd "$(dirname "$0")/.."

bash -n vm/provision.sh
vm/provision.sh --dry-run >/tmp/rubber-crab-provision.$$ 2>&1 || { cat /tmp/rubber-crab-provision.$$; exit 1; }
grep -q '^+ cargo build --workspace$' /tmp/rubber-crab-provision.$$
grep -q 'checker doctor$' /tmp/rubber-crab-provision.$$
rm -f /tmp/rubber-crab-provision.$$
if vm/provision.sh --bogus 2>/dev/null; then echo "vm/provision.sh accepted --bogus"; exit 1; fi
# A real run of what needs no build; the second run finds everything done.
vm/provision.sh --no-build
again=$(vm/provision.sh --no-build)
echo "$again" | grep -q 'already installed' || { echo "not idempotent: $again"; exit 1; }
if echo "$again" | grep -q '^+ '; then echo "the second run still did: $again"; exit 1; fi

packages=$(sed -n 's/^PACKAGES=(\(.*\))$/\1/p' vm/provision.sh)
[ -n "$packages" ] || { echo "no PACKAGES=(…) line in vm/provision.sh"; exit 1; }
/usr/bin/python3 - "$packages" <<'PY'
import sys, yaml
packages = sys.argv[1].split()
lima = yaml.safe_load(open("vm/lima.yaml"))
script = lima["provision"][0]["script"]
installed = [line.split("--no-install-recommends", 1)[1].split() for line in script.splitlines() if "apt-get install" in line]
assert installed == [packages], f"vm/lima.yaml installs {installed}, vm/provision.sh {packages}"
assert {i["arch"] for i in lima["images"]} == {"x86_64", "aarch64"}, lima["images"]
cloud = open("vm/cloud-init.yaml").read()
assert cloud.startswith("#cloud-config\n"), "cloud-init needs its #cloud-config first line"
cloud = yaml.safe_load(cloud)
assert cloud["packages"] == packages, f"vm/cloud-init.yaml installs {cloud['packages']}, vm/provision.sh {packages}"
# The README's commands are the files' own.
readme = open("README.md").read()
for path in ["vm/lima.yaml", "vm/cloud-init.yaml"]:
    for line in open(path):
        line = line.strip()
        if line.startswith("#   ") and any(w in line for w in ["limactl", "multipass", "git clone"]):
            command = line[4:]
            assert command in readme, f"README.md does not say `{command}` ({path})"
for command in ["vm/provision.sh", "limactl start --name rubber-crab vm/lima.yaml"]:
    assert command in readme, command
print("vm: provision.sh, lima.yaml and cloud-init.yaml agree with each other and with README.md")
PY
