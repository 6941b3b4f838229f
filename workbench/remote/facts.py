"""Host facts: one shell script that prints `key=value` lines, and a pure parser for them.

One round trip gathers everything preflight, plan and deploy need. The script takes its inputs
as positional parameters (never formatted into the text), so profile values cannot change it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.numbers import to_int
from workbench.remote.connection import HostConnection

# $1 release dir, $2 unit name, $3 service user, $4 tender name, $5 the artifact's sha256,
# $6 the kernel's file name in a release, $7 the sha256 of the tender deploy brings ("" when it
# takes the host's own), $8 block image paths (space-separated); then managed file paths. With
# $5 the host names the release these make and says what of it it has, so deciding needs no
# second round trip.
FACTS_SCRIPT = r"""
rel=$1 unit=$2 user=$3 tender=$4 artifact=$5 kernel=$6 brought=$7 blocks=$8; shift 8
# printf, not echo: dash's echo would interpret backslashes in what the host reports.
kv() { printf '%s=%s\n' "$1" "$2"; }
kv arch "$(uname -m)"
kv kernel "$(uname -r)"
kv long_bit "$(getconf LONG_BIT 2>/dev/null)"
kv dpkg_arch "$(dpkg --print-architecture 2>/dev/null)"
kv model "$(tr -d '\0\n' </proc/device-tree/model 2>/dev/null)"
if [ -e /dev/kvm ]; then kv kvm "$(stat -c '%U:%G:%a' /dev/kvm)"; else kv kvm ""; fi
# solo5-spt loads a seccomp filter of its own: the kernel needs filter mode, which is what
# /proc/sys/kernel/seccomp exists for (4.14 and later); "Seccomp:" alone is strict mode only.
if [ -r /proc/sys/kernel/seccomp/actions_avail ]; then kv seccomp filter
elif grep -q '^Seccomp:' /proc/self/status 2>/dev/null; then kv seccomp strict
else kv seccomp no; fi
if [ -e /dev/net/tun ]; then kv tun "$(stat -c '%U:%G:%a' /dev/net/tun)"; else kv tun ""; fi
kv pid1 "$(cat /proc/1/comm 2>/dev/null)"
kv machine_id "$(head -c 64 /etc/machine-id 2>/dev/null | tr -cd '0-9a-f')"
kv systemd "$(systemctl is-system-running 2>/dev/null)"
# One systemctl for three units (a line each, in order): each call costs a few ms on a Pi.
states=$(systemctl is-active systemd-networkd NetworkManager "$unit" 2>/dev/null)
{ read -r networkd; read -r networkmanager; read -r unit_active; } <<EOF
$states
EOF
kv networkd "$networkd"
kv networkmanager "$networkmanager"
kv ifupdown "$(command -v ifup >/dev/null 2>&1 && echo yes || echo no)"
kv ifupdown_active "$(systemctl is-enabled networking 2>/dev/null)"
kv nft "$(command -v nft >/dev/null 2>&1 && echo yes || echo no)"
d=$rel; while [ ! -d "$d" ]; do d=$(dirname "$d"); done
kv disk_free_kb "$(df -Pk "$d" | awk 'NR==2 {print $4}')"
kv mem_available_kb "$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)"
if id "$user" >/dev/null 2>&1; then
  kv user_groups "$(id -nG "$user")"
  if [ -e /dev/kvm ]; then
    runuser -u "$user" -- sh -c 'test -r /dev/kvm && test -w /dev/kvm' 2>/dev/null \
      && kv user_kvm yes || kv user_kvm no
  fi
else
  kv user_groups -
fi
installed=$(command -v "$tender" 2>/dev/null)
kv installed_tender "$installed"
# A virtio unikernel runs under the host's QEMU (no release carries it): its version line.
# Never run as root: nobody is enough to print a version.
case $tender in qemu-*) [ -n "$installed" ] && id nobody >/dev/null 2>&1 && kv qemu_version \
  "$(runuser -u nobody -- timeout 10 "$installed" --version 2>/dev/null | head -n 1 \
     | tr -d '\r\013\014')";; esac
tsha=$brought
if [ -z "$brought" ] && [ -n "$installed" ]; then
  if out=$(sha256sum "$installed" 2>&1); then
    tsha=${out%% *}
    kv installed_tender_sha "$tsha"
  else
    kv installed_tender_error "$out"
  fi
fi
if [ -n "$artifact" ] && [ -n "$tsha" ]; then
  rid=$(printf '%s:%s' "$artifact" "$tsha" | sha256sum | cut -c1-16)
  kv release "$rid"
  d=$rel/releases/$rid
  rsha=
  for f in "$kernel" "$tender"; do
    if [ -f "$d/$f" ]; then
      out=$(sha256sum "$d/$f"); kv "release_file:$f" "${out%% *}"
      [ "$f" = "$tender" ] && rsha=${out%% *}
    fi
  done
  # The version of exactly the tender deploy would run: the release's copy (hashed just above),
  # or the host's own (hashed before), run only if its hash is the one asked about, and never
  # as root.
  v= vsha=
  if [ -f "$d/$tender" ]; then v=$d/$tender vsha=$rsha
  elif [ -z "$brought" ]; then v=$installed vsha=$tsha; fi
  if [ -n "$v" ] && [ "$vsha" = "$tsha" ] && id nobody >/dev/null 2>&1
  then
    runuser -u nobody -- timeout 10 "$v" --version 2>&1 | head -c 1000 \
      | tr -d '\r\013\014' | awk '{ print "tender_version " $0 }'
  fi
fi
ip -br link show 2>/dev/null | awk '{ print "link " $0 }'
kv current "$(readlink "$rel/current" 2>/dev/null)"
kv releases "$(ls -1 "$rel/releases" 2>/dev/null | grep -v '^\.' | tr '\n' ' ')"
kv unit_active "$unit_active"
kv unit_enabled "$(systemctl is-enabled "$unit" 2>/dev/null)"
for f in "$@"; do
  if [ -f "$f" ]; then kv "file:$f" "$(sha256sum "$f" | cut -d' ' -f1)"; else kv "file:$f" ""; fi
done
# Block images (paths without spaces, checked by the profile): size in bytes and owner.
for b in $blocks; do
  if [ -e "$b" ]; then kv "block:$b" "$(stat -L -c '%s %U %F' "$b")"; else kv "block:$b" ""; fi
done
# Every unikernel's owner record (workbench/owners.py), whoever deployed it: one line each.
for f in /etc/workbench/owners/*.json; do
  if [ -f "$f" ]; then printf 'owner %s\n' "$(head -c 4096 "$f" | tr -d '\n\r')"; fi
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
    installed_tender_sha: str = ""
    installed_tender_error: str = ""  # why the host's own tender could not be hashed
    release: str = ""  # the release the artifact and tender make, as the host computed it
    release_files: dict[str, str] = field(default_factory=dict)  # name -> sha256, present ones
    tender_version: str = ""  # `--version` of that release's tender (or the host's own)
    links: dict[str, bool] = field(default_factory=dict)  # interface -> IFF_UP
    owners: list[str] = field(default_factory=list)  # owner records as the host has them
    blocks: dict[str, str] = field(default_factory=dict)  # path -> "SIZE OWNER TYPE", "" absent
    seccomp: str = ""  # "filter", "strict" (no filter mode), "no"; "" when not asked
    machine_id: str = ""  # /etc/machine-id: what makes virtio MACs differ between hosts
    qemu_version: str = ""  # `qemu-system-x86_64 --version`'s first line (virtio only)

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


def parse_facts(text: str) -> HostFacts:
    values: dict[str, str] = {}
    files: dict[str, str] = {}
    release_files: dict[str, str] = {}
    blocks: dict[str, str] = {}
    version: list[str] = []
    links: list[str] = []
    owners: list[str] = []
    # Lines are what the script printed with "\n"; nothing else (a "\r" in a value) separates.
    for line in text.split("\n"):
        if line.startswith("tender_version "):
            version.append(line[len("tender_version ") :])
            continue
        if line.startswith("link "):
            links.append(line[len("link ") :])
            continue
        if line.startswith("owner "):
            owners.append(line[len("owner ") :])
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        if key.startswith("file:"):
            files.setdefault(key[5:], value.strip())
        elif key.startswith("release_file:"):
            release_files.setdefault(key[13:], value.strip())
        elif key.startswith("block:"):
            blocks.setdefault(key[6:], value.strip())
        else:
            values.setdefault(key, value.strip())
    groups = values.get("user_groups", "-")
    return HostFacts(
        arch=values.get("arch", ""),
        kernel=values.get("kernel", ""),
        long_bit=to_int(values.get("long_bit")),
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
        disk_free_kb=to_int(values.get("disk_free_kb")),
        mem_available_kb=to_int(values.get("mem_available_kb")),
        user_groups=None if groups == "-" else groups.split(),
        user_kvm={"yes": True, "no": False}.get(values.get("user_kvm", "")),
        seccomp=values.get("seccomp", ""),
        machine_id=values.get("machine_id", ""),
        qemu_version=values.get("qemu_version", ""),
        installed_tender=values.get("installed_tender", ""),
        current=values.get("current", ""),
        releases=values.get("releases", "").split(),
        unit_active=values.get("unit_active", ""),
        unit_enabled=values.get("unit_enabled", ""),
        files=files,
        installed_tender_sha=values.get("installed_tender_sha", ""),
        installed_tender_error=values.get("installed_tender_error", ""),
        release=values.get("release", ""),
        release_files=release_files,
        tender_version="\n".join(version),
        links=parse_link_flags("\n".join(links)),
        owners=owners,
        blocks=blocks,
    )


def parse_link_flags(ip_br_link: str) -> dict[str, bool]:
    """`ip -br link` -> {name: IFF_UP}. The flags are the last column (`<...,UP>`); the state
    column says DOWN/NO-CARRIER for a tap until a tender attaches, which is fine: Solo5 checks
    IFF_UP."""
    out: dict[str, bool] = {}
    for line in ip_br_link.splitlines():
        words = line.split()
        if len(words) >= 2 and words[-1].startswith("<"):
            out[words[0].split("@")[0]] = "UP" in words[-1].strip("<>").split(",")
    return out


def facts_argv(
    release_dir: str,
    unit: str,
    user: str,
    tender: str,
    files: Sequence[str],
    *,
    artifact_sha: str = "",
    kernel: str = "",
    tender_sha: str = "",
    blocks: Sequence[str] = (),
) -> list[str]:
    return [
        "sh",
        "-c",
        FACTS_SCRIPT,
        "workbench-facts",
        release_dir,
        unit,
        user,
        tender,
        artifact_sha,
        kernel,
        tender_sha,
        " ".join(blocks),
        *files,
    ]


async def read(conn: HostConnection, argv: list[str]) -> HostFacts:
    out = await conn.run(argv, what="reading host facts", timeout=60)
    return parse_facts(out.stdout)
