"""The lab, once per test session: brought up if it is not, torn down at the end if we did."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from workbench.lab import manager, vm


@pytest.fixture(scope="session")
def lab():
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (namespaces, mounts, systemd-nspawn); run as root")
    status = manager.status()
    was_up = all(status[h]["running"] and status[h]["ssh"] for h in ("target", "builder"))
    state = manager.up(progress=lambda _m: None)
    yield state
    if not was_up:
        manager.down(progress=lambda _m: None)


def _vm_for_module(spec: vm.Spec) -> Iterator[None]:
    """A VM tier up for a test module; stopped after it if this fixture started it."""
    was_running = vm.running(spec)
    vm.up(spec, progress=lambda _m: None)
    yield
    if not was_running:
        vm.down(spec)


@pytest.fixture(scope="module")
def full_vm(lab):
    """The x86_64 VM tier."""
    yield from _vm_for_module(vm.VM)


@pytest.fixture(scope="module")
def pi(lab):
    """The arm64 VM tier, the Raspberry Pi stand-in."""
    yield from _vm_for_module(vm.PI)
