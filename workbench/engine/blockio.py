"""`workbench block pull | push`: a unikernel's block image off its host and back, under the
deploy lock and hash-verified. A pull of a running unikernel's image may be torn (it writes
while the image is read), so it needs --live and says so; a push replaces the disk under the
unikernel, so it is refused until the unikernel is stopped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from workbench.engine.locked import Held, locked
from workbench.errors import ConfigError
from workbench.events import Event, HostDone, StepFinished
from workbench.profiles.loader import LoadedProfile
from workbench.profiles.models import Profile
from workbench.remote import blockcopy, systemd
from workbench.remote.connection import Pool

RUNNING = ("active", "activating", "reloading", "deactivating")


def image_of(p: Profile, device: str) -> str:
    paths = p.block_paths
    if device not in paths:
        have = ", ".join(paths) or "none"
        raise ConfigError(
            f"unikernel '{p.unikernel.name}' has no block device '{device}' (it has: {have})",
            "name one of unikernel.block's devices with --device",
        )
    return paths[device]


def pull(
    pool: Pool, loaded: LoadedProfile, host: str, device: str, local: Path, *, live: bool
) -> AsyncIterator[Event]:
    return locked(
        pool, loaded, host, "pull", lambda held: _pull(held, loaded, host, device, local, live)
    )


def push(
    pool: Pool, loaded: LoadedProfile, host: str, device: str, local: Path
) -> AsyncIterator[Event]:
    return locked(pool, loaded, host, "push", lambda held: _push(held, loaded, host, device, local))


def _how_to_stop(loaded: LoadedProfile) -> str:
    uk = loaded.profile.unikernel.name
    which = f" --unikernel {uk}" if loaded.several else ""
    return f"workbench stop --profile {loaded.name}{which}"


async def _pull(
    held: Held, loaded: LoadedProfile, host: str, device: str, local: Path, live: bool
) -> AsyncIterator[Event]:
    p = loaded.profile
    image = image_of(p, device)
    _, active, _ = await systemd.unit_state(held.conn, p.unit_name)
    running = active in RUNNING
    if running and not live:
        raise ConfigError(
            f"{p.unit_name} is running on {host}: a copy of {image} now may be torn (the "
            "unikernel writes while it is read)",
            f"stop it first ({_how_to_stop(loaded)}; then pull; then start), or pass --live "
            "for a copy that may not be consistent",
        )
    sha, size = await blockcopy.pull(held.conn, image, local)
    torn = " -- a LIVE copy of a running unikernel: it may not be consistent" if running else ""
    detail = f"{host}:{image} -> {local}, {size} bytes, sha256 {sha} (verified){torn}"
    yield StepFinished(host=host, step="pull", changed=False, detail=detail)
    yield HostDone(host=host, step="done", ok=True, summary=f"pulled {device} to {local}{torn}")


async def _push(
    held: Held, loaded: LoadedProfile, host: str, device: str, local: Path
) -> AsyncIterator[Event]:
    p = loaded.profile
    image = image_of(p, device)
    _, active, _ = await systemd.unit_state(held.conn, p.unit_name)
    if active in RUNNING:
        raise ConfigError(
            f"{p.unit_name} is running on {host}: a push would replace its disk under it",
            f"stop it first ({_how_to_stop(loaded)}), push, then start it again",
        )
    sha = await blockcopy.push(held.conn, local, image, p.service.user, p.service.group)
    held.changed = True
    detail = f"{local} -> {host}:{image}, sha256 {sha} (verified), replaced in one rename"
    yield StepFinished(host=host, step="push", changed=True, detail=detail)
    yield HostDone(host=host, step="done", ok=True, changed=True, summary=f"pushed {device}")
