"""The files `render` writes for the ways a profile departs from the bundled ones -- each network
mode on each backend, the spt target, block storage and two networks from a real manifest,
boot arguments systemd must read back as written, a bridge name nft cannot take as is -- and
its refusals, written out whole and compared with tests/golden/render-variants.txt.

The bundled profiles' own files are tests/golden/<profile>.<backend>.txt (test_render.py).
Regenerate after an intended change with `UPDATE_GOLDEN=1 pytest tests/unit`, then read the
diff."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from workbench import profiles, render
from workbench.artifacts import inspect, parse_tender_version
from workbench.artifacts.qemu import VirtioHost
from workbench.errors import WorkbenchError
from workbench.lab import solo5elf
from workbench.profiles.models import BlockImage

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "render-variants.txt"
BASE = profiles.load("rpi3b", cwd=ROOT).profile


def variant(network=None, unikernel=None, build=None):  # type: ignore[no-untyped-def]
    update = {}
    for name, changes in (("network", network), ("unikernel", unikernel), ("build", build)):
        if changes:
            update[name] = getattr(BASE, name).model_copy(update=changes)
    uk = update.pop("unikernel", None)
    changed = BASE.model_copy(update=update)
    return changed.view(uk) if uk else changed


def shown(call: Callable[[], list[render.RenderedFile]]) -> str:
    try:
        files = call()
    except WorkbenchError as e:
        return f"{type(e).__name__}: {e.message} | hint: {e.hint}\n"
    return "".join(f"--> {f.path} ({f.purpose})\n{f.content}" for f in files)


def cases(tmp: Path) -> Iterator[tuple[str, Callable[[], list[render.RenderedFile]]]]:
    modes = {
        "tap-only": {"mode": "tap-only", "address": "10.0.0.1/24"},
        "bridge-uplink, dhcp": {"mode": "bridge-uplink", "uplink": "eth0", "address": "dhcp"},
        "bridge-uplink, static": {
            "mode": "bridge-uplink",
            "uplink": "eth0",
            "address": "10.0.0.10/24",
            "gateway": "10.0.0.254",
        },
        "nat on a VLAN-named bridge": {"bridge": "br-lab.100"},
        "nat out of eth0 only": {"uplink": "eth0"},
    }
    for name, changes in modes.items():
        for backend in render.BACKENDS:
            p = variant(network=changes)
            yield f"{name}, {backend}", lambda p=p, b=backend: render.render_network(p, b, "rpi3b")
    spt = variant(build={"target": "spt"})
    yield "spt target", lambda: [render.render_unit(spt, profile_label="rpi3b")]
    # virtio: the host's QEMU, a MAC per device from the host's id, KVM or TCG as decided.
    vdevices = [("service", "NET_BASIC"), ("storage", "BLOCK_BASIC")]
    vinfo = inspect(solo5elf.write(tmp / "hello.virtio", target="virtio", devices=vdevices))
    virtio = variant(
        build={"target": "virtio"},
        unikernel={"block": {"storage": BlockImage(path="/srv/hello/disk.img")}},
    )
    for kvm in (True, False):
        host = VirtioHost(kvm=kvm, host_id="0123456789abcdef0123456789abcdef")
        yield (
            f"virtio target, {'KVM' if kvm else 'TCG'}",
            lambda h=host: [render.render_unit(virtio, vinfo, None, "rpi3b", h)],
        )
    devices = [
        ("service0", "NET_BASIC"),
        ("storage", "BLOCK_BASIC"),
        ("service1", "NET_BASIC"),
        ("logs", "BLOCK_BASIC"),
    ]
    info = inspect(solo5elf.write(tmp / "hello.hvt", devices=devices))
    tender = parse_tender_version("solo5-hvt tender, version v0.12.1\nABI version 2\n")
    two = variant(
        unikernel={
            "networks": {"service0": "tap100", "service1": "tap101"},
            "block": {
                "storage": BlockImage(path="/srv/hello/disk.img"),
                "logs": BlockImage(path="/srv/hello/logs.img"),
            },
            "args": ['--motd=Hello, "World"', "--pattern=a\\d+"],
        }
    )
    yield "two networks and two disks", lambda: render.render_all(two, "ifupdown", info, tender)
    old = parse_tender_version("solo5-hvt tender, version v0.5.0\n")
    yield "a pre-0.6 tender", lambda: render.render_all(BASE, "ifupdown", None, old)[:1]
    one_net = variant(unikernel={"networks": {"service0": "tap100"}})
    yield "a manifest device unmapped, no label", lambda: [render.render_unit(one_net, info)]
    yield "the same with a label", lambda: [render.render_unit(one_net, info, None, "rpi3b")]
    yield "auto backend", lambda: render.render_network(BASE, "auto")
    tap_only_two = variant(
        network=modes["tap-only"], unikernel={"networks": {"a": "tap100", "b": "tap101"}}
    )
    yield "tap-only, two networks", lambda: render.render_network(tap_only_two, "ifupdown")


def test_every_variant_renders_as_recorded(tmp_path):
    got = "".join(f"== {name}\n{shown(call)}\n" for name, call in cases(tmp_path))
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
