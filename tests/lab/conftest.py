"""The lab, once per test session: brought up if it is not, torn down at the end if we did."""

from __future__ import annotations

import os

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


@pytest.fixture(scope="module")
def full_vm(lab):
    """The x86_64 VM tier, up for a test module; stopped after it if this fixture started it."""
    was_running = vm.running(vm.VM)
    vm.up(vm.VM, progress=lambda _m: None)
    yield
    if not was_running:
        vm.down(vm.VM)
