"""`workbench remove` decided without a host: what is the unikernel's own, what is shared and
when it stays, what --purge adds; and the question it asks before anything is deleted."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from tests.unit.test_decide import LOADED, ROOT
from workbench import owners
from workbench.engine.remove import plan_removal
from workbench.profiles.models import BlockImage


def test_its_own_files_go_and_the_shared_ones_only_when_nobody_else_is_on_the_bridge():
    plan, keep = plan_removal(LOADED, [], purge=False)
    assert keep is None and plan.drop_shared and plan.bridge == "br100"
    assert plan.taps == ("tap100",)
    assert plan.tap_files == (
        "/etc/network/interfaces.d/workbench-br100-tap100",
        "/etc/systemd/network/10-workbench-tap100.netdev",
        "/etc/systemd/network/10-workbench-tap100.network",
    )
    assert plan.shared_files == (
        "/etc/network/interfaces.d/workbench-br100",
        "/etc/systemd/network/10-workbench-br100.netdev",
        "/etc/systemd/network/10-workbench-br100.network",
        "/etc/workbench/nat-br100.nft",
    )
    assert plan.record == "/etc/workbench/owners/unikernel-hello.json"
    assert (plan.purge_dir, plan.block) == ("", ())


def test_another_unikernel_on_the_bridge_keeps_it_and_is_named():
    other = owners.Owner("web", "site", "unikernel-site.service", ("tap101",), (), "br100")
    elsewhere = dataclasses.replace(other, unit="unikernel-x.service", bridge="br9")
    plan, keep = plan_removal(LOADED, [other, elsewhere], purge=False)
    assert not plan.drop_shared
    assert keep == "br100 is used by unikernel-site.service (unikernel 'site' of profile 'web')"


def test_a_bridge_with_the_hosts_uplink_is_never_taken_down():
    p = LOADED.profile
    net = p.network.model_copy(update={"mode": "bridge-uplink", "uplink": "eth0"})
    loaded = dataclasses.replace(LOADED, profile=p.model_copy(update={"network": net}))
    plan, keep = plan_removal(loaded, [], purge=False)
    assert not plan.drop_shared and keep is not None and "uplink eth0" in keep


def test_purge_adds_the_releases_and_the_block_images():
    p = LOADED.profile
    image = BlockImage(path="/var/lib/uk/disk.img")
    uk = p.unikernel.model_copy(update={"block": {"storage": image}})
    loaded = dataclasses.replace(LOADED, profile=p.view(uk))
    plan, _ = plan_removal(loaded, [], purge=True)
    assert plan.purge_dir == "/var/lib/workbench/hello"
    assert plan.block == ("/var/lib/uk/disk.img",)


def unreachable(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A profile whose one target is a closed port on this machine: never a real host."""
    text = (ROOT / "profiles" / "rpi3b.yaml").read_text()
    text = text.replace(
        "address: rpi3b.local", "address: 127.0.0.1\n    port: 9\n    connect_timeout: 5"
    )
    path = tmp_path / "nowhere.yaml"
    path.write_text(text)
    return str(path)


def test_with_no_terminal_and_no_yes_it_refuses_before_connecting(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "remove", "--profile", unreachable(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: remove would delete unikernel-hello.service on rpi3b, and there is no "
        "terminal to ask on",
        "hint: add --yes to confirm (scripts, CI)",
    ]


def test_on_a_terminal_it_asks_and_only_yes_goes_on(tmp_path):
    import os

    profile = unreachable(tmp_path)

    def ask(answer: bytes) -> subprocess.CompletedProcess[str]:
        main, side = os.openpty()
        os.write(main, answer)
        try:
            return subprocess.run(
                [sys.executable, "-m", "workbench", "remove", "--profile", profile],
                cwd=ROOT,
                capture_output=True,
                text=True,
                stdin=side,
                timeout=120,
            )
        finally:
            os.close(main)
            os.close(side)

    no = ask(b"n\n")
    assert no.returncode == 1
    assert no.stderr.startswith(
        "Remove unikernel-hello.service from rpi3b, with their taps (their releases are kept)? "
        "[y/N] error: not removed: the answer was not yes"
    )
    yes = ask(b"yes\n")  # goes on, to a port where nothing listens
    assert yes.returncode == 3, yes.stderr
    assert "127.0.0.1:9" in yes.stderr


def test_a_tap_or_an_image_another_record_lists_is_never_deleted():
    p = LOADED.profile
    image = BlockImage(path="/srv/shared.img")
    uk = p.unikernel.model_copy(update={"block": {"storage": image}})
    loaded = dataclasses.replace(LOADED, profile=p.view(uk))
    other = owners.Owner(
        "web", "site", "unikernel-site.service", ("tap100",), (), "br100",
        "/var/lib/workbench/hello", ("/srv/shared.img",),
    )  # fmt: skip
    plan, keep = plan_removal(loaded, [other], purge=True)
    assert plan.taps == () and plan.tap_files == ()
    assert plan.purge_dir == "" and plan.block == ()
    assert not plan.drop_shared and keep is not None
