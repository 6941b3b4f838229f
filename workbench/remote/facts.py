"""Host facts: one shell script that prints `key=value` lines, and a pure parser for them.

One round trip gathers everything preflight, plan and deploy need. The script takes its inputs
as positional parameters (never formatted into the text), so profile values cannot change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.numbers import to_int

# $1 release dir, $2 unit name, $3 service user, $4 tender name; then managed file paths.
FACTS_SCRIPT = r"""
rel=$1 unit=$2 user=$3 tender=$4; shift 4
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
echo "long_bit=$(getconf LONG_BIT 2>/dev/null)"
echo "dpkg_arch=$(dpkg --print-architecture 2>/dev/null)"
echo "model=$(tr -d '\0' </proc/device-tree/model 2>/dev/null)"
if [ -e /dev/kvm ]; then echo "kvm=$(stat -c '%U:%G:%a' /dev/kvm)"; else echo "kvm="; fi
if [ -e /dev/net/tun ]; then echo "tun=$(stat -c '%U:%G:%a' /dev/net/tun)"; else echo "tun="; fi
echo "pid1=$(cat /proc/1/comm 2>/dev/null)"
echo "systemd=$(systemctl is-system-running 2>/dev/null)"
echo "networkd=$(systemctl is-active systemd-networkd 2>/dev/null)"
echo "networkmanager=$(systemctl is-active NetworkManager 2>/dev/null)"
echo "ifupdown=$(command -v ifup >/dev/null 2>&1 && echo yes || echo no)"
echo "ifupdown_active=$(systemctl is-enabled networking 2>/dev/null)"
echo "nft=$(command -v nft >/dev/null 2>&1 && echo yes || echo no)"
d=$rel; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
echo "disk_free_kb=$(df -Pk "$d" | awk 'NR==2 {print $4}')"
echo "mem_available_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
if id "$user" >/dev/null 2>&1; then
  echo "user_groups=$(id -nG "$user")"
  if [ -e /dev/kvm ]; then
    runuser -u "$user" -- sh -c 'test -r /dev/kvm && test -w /dev/kvm' 2>/dev/null \
      && echo "user_kvm=yes" || echo "user_kvm=no"
  fi
else
  echo "user_groups=-"
fi
echo "installed_tender=$(command -v "$tender" 2>/dev/null)"
echo "current=$(readlink "$rel/current" 2>/dev/null)"
echo "releases=$(ls -1 "$rel/releases" 2>/dev/null | grep -v '^\.' | tr '\n' ' ')"
echo "unit_active=$(systemctl is-active "$unit" 2>/dev/null)"
echo "unit_enabled=$(systemctl is-enabled "$unit" 2>/dev/null)"
for f in "$@"; do
  if [ -f "$f" ]; then echo "file:$f=$(sha256sum "$f" | cut -d' ' -f1)"; else echo "file:$f="; fi
done
"""


@dataclass(frozen=True)
class HostFacts:
    arch: str
    kernel: str
    long_bit: int | None
    dpkg_arch: str
    model: str
    kvm: str  # "owner:group:mode", "" when absent
    tun: str
    pid1: str
    systemd: str
    networkd: str
    networkmanager: str
    ifupdown: bool
    ifupdown_active: str
    nft: bool
    disk_free_kb: int | None
    mem_available_kb: int | None
    user_groups: list[str] | None  # None: the service user does not exist
    user_kvm: bool | None
    installed_tender: str
    current: str
    releases: list[str]
    unit_active: str
    unit_enabled: str
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 ("" if absent)

    @property
    def current_release(self) -> str | None:
        return self.current.rsplit("/", 1)[-1] if self.current else None

    @property
    def backend(self) -> str | None:
        """The network backend this host runs, for profiles with backend 'auto'."""
        if self.networkd == "active":
            return "systemd-networkd"
        if self.ifupdown:
            return "ifupdown"
        return None


def _int(value: str) -> int | None:
    return to_int(value)


def parse_facts(text: str) -> HostFacts:
    values: dict[str, str] = {}
    files: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("file:"):
            files[key[5:]] = value.strip()
        else:
            values[key] = value.strip()
    groups = values.get("user_groups", "-")
    return HostFacts(
        arch=values.get("arch", ""),
        kernel=values.get("kernel", ""),
        long_bit=_int(values.get("long_bit", "")),
        dpkg_arch=values.get("dpkg_arch", ""),
        model=values.get("model", ""),
        kvm=values.get("kvm", ""),
        tun=values.get("tun", ""),
        pid1=values.get("pid1", ""),
        systemd=values.get("systemd", ""),
        networkd=values.get("networkd", ""),
        networkmanager=values.get("networkmanager", ""),
        ifupdown=values.get("ifupdown") == "yes",
        ifupdown_active=values.get("ifupdown_active", ""),
        nft=values.get("nft") == "yes",
        disk_free_kb=_int(values.get("disk_free_kb", "")),
        mem_available_kb=_int(values.get("mem_available_kb", "")),
        user_groups=None if groups == "-" else groups.split(),
        user_kvm={"yes": True, "no": False}.get(values.get("user_kvm", "")),
        installed_tender=values.get("installed_tender", ""),
        current=values.get("current", ""),
        releases=values.get("releases", "").split(),
        unit_active=values.get("unit_active", ""),
        unit_enabled=values.get("unit_enabled", ""),
        files=files,
    )


def facts_argv(
    release_dir: str, unit: str, user: str, tender: str, files: Sequence[str]
) -> list[str]:
    return ["sh", "-c", FACTS_SCRIPT, "workbench-facts", release_dir, unit, user, tender, *files]
