"""Record the host facts the decision table tests feed to `decide()`, from the lab target.

    python -m tests.unit.record_facts     # needs `workbench lab up`; rewrites tests/data/facts/

Each recording is what the facts script printed on the target in one state (fresh, deployed,
a tap down, the unit disabled, ...), with the artifact and tender it was asked about. Record
again when the facts script changes; the table tests then show what the change decides.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from dataclasses import asdict
from pathlib import Path

from tests.lab.deploykit import HEALTHY, ROOT, artifact, deploy_args, on_target, tender, workbench
from workbench import profiles
from workbench.artifacts.elf import ArtifactInfo, inspect
from workbench.engine import hostinfo
from workbench.engine.release import local_tender
from workbench.lab import solo5elf
from workbench.remote import facts as factsmod
from workbench.remote.connection import Pool

OUT = ROOT / "tests" / "data" / "facts"
UNIT = "unikernel-hello.service"
# A tender from before Solo5 manifests (0.6.0), installed as the host's own: the case where
# plan once rendered another ExecStart than deploy wrote.
LEGACY = "#!/bin/sh\nprintf 'solo5-hvt tender, version v0.5.2\\nABI version 1\\n' >&2\n"


async def _raw(art: ArtifactInfo, tender_sha: str) -> str:
    loaded = profiles.load(str(ROOT / "profiles" / "lab.yaml"))
    p = loaded.profile
    argv = factsmod.facts_argv(
        p.release_dir,
        p.unit_name,
        p.service.user,
        p.tender_name,
        hostinfo.managed_paths(loaded),
        artifact_sha=art.sha256,
        kernel=f"{p.unikernel.name}.{p.build.target}",
        tender_sha=tender_sha,
    )
    pool = Pool(p.hosts)
    try:
        return (await pool.get("target").run(argv, timeout=60)).stdout
    finally:
        await pool.close()


def record(name: str, how: str, art: ArtifactInfo, with_tender: bool = True) -> None:
    t = local_tender(tender()) if with_tender else None
    text = asyncio.run(_raw(art, t.sha256 if t else ""))
    doc = {
        "how": how,
        "profile": "profiles/lab.yaml",
        "artifact": {**asdict(art), "path": Path(art.path).name},
        "tender": None if t is None else {"sha256": t.sha256, "size": t.size, "machine": t.machine},
        "facts": text.splitlines(),
    }
    (OUT / f"{name}.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{name}: {len(doc['facts'])} lines")


def deploy(path: Path) -> None:
    result = workbench(*deploy_args("lab", path, tender()), timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"deploy {path}: exit {result.returncode}\n{result.stderr}")


SAVED = "/usr/local/bin/solo5-hvt.record-facts"


def main() -> None:
    """`lab up` installs the tender double as the host's own (/usr/local/bin/solo5-hvt): the
    recordings are of a host without one (but for the legacy case), so it is set aside for
    the recording and put back after."""
    on_target(
        f"test ! -e {SAVED} && {{ ! test -e /usr/local/bin/solo5-hvt || "
        f"mv /usr/local/bin/solo5-hvt {SAVED}; }}"
    ).check_returncode()
    try:
        record_all()
    finally:
        on_target(
            "rm -f /usr/local/bin/solo5-hvt; "
            f"test ! -e {SAVED} || mv {SAVED} /usr/local/bin/solo5-hvt"
        )


def record_all() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path("/tmp")
    a = artifact(tmp, "workbench-facts-a", HEALTHY)
    b = artifact(tmp, "workbench-facts-b", {**HEALTHY, "logs": [{"msg": "b"}]})
    info_a, info_b = inspect(a), inspect(b)
    loaded = profiles.load(str(ROOT / "profiles" / "lab.yaml"))
    managed = hostinfo.managed_paths(loaded)
    on_target(
        f"systemctl disable --now {UNIT} 2>/dev/null; rm -rf /var/lib/workbench/hello "
        f"/etc/systemd/system/{UNIT} {shlex.join(managed)}; ip link del tap100 2>/dev/null; "
        "ip link del br100 2>/dev/null; userdel unikernel 2>/dev/null; "
        "systemctl daemon-reload; networkctl reload; true"
    )
    record("fresh", "nothing of this profile on the host, no service user", info_a)
    deploy(a)
    record("deployed", "after `deploy` of this artifact and tender", info_a)
    record("other-artifact", "artifact A deployed; facts asked about artifact B", info_b)
    on_target("ip link set tap100 down")
    record("tap-down", "deployed, then `ip link set tap100 down`", info_a)
    on_target(f"ip link set tap100 up; systemctl disable {UNIT}")
    record("disabled", f"deployed, then `systemctl disable {UNIT}`", info_a)
    on_target(f"systemctl enable {UNIT}; systemctl stop {UNIT}")
    record("stopped", f"deployed, then `systemctl stop {UNIT}`", info_a)
    on_target(f"systemctl start {UNIT}; echo '# edited' >> /etc/systemd/system/{UNIT}")
    record("unit-edited", "deployed, then a line appended to the unit file", info_a)
    deploy(a)
    on_target("rm -f /var/lib/workbench/hello/releases/*/hello.hvt")
    record("release-damaged", "deployed, then the release's kernel file removed", info_a)
    deploy(a)
    legacy = tmp / "workbench-facts-legacy.hvt"
    legacy.write_bytes(
        solo5elf.build(devices=[("service", "NET_BASIC")], abi_version=1, with_manifest=False)
    )
    on_target(
        f"printf %s {shlex.quote(LEGACY)} > /usr/local/bin/solo5-hvt "
        "&& chmod 0755 /usr/local/bin/solo5-hvt"
    ).check_returncode()
    record(
        "legacy-host-tender",
        "deployed; a pre-0.6 solo5-hvt installed on the host; facts asked about a "
        "manifest-less ABI 1 artifact with no tender given (the host's own is used)",
        inspect(legacy),
        with_tender=False,
    )


if __name__ == "__main__":
    main()
