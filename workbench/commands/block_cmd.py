"""`workbench block pull|push --profile P [--unikernel NAME] [--host H] --device DEV FILE`:
one unikernel's block image on one host, copied off or put back."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

from workbench import profiles
from workbench.commands.deploy_cmd import select_hosts
from workbench.commands.hostops_cmd import run_streams
from workbench.engine import blockio
from workbench.errors import ConfigError
from workbench.events import Event
from workbench.headless import Output
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool


def run(args: argparse.Namespace, out: Output) -> int:
    loaded = profiles.load(args.profile)
    views = loaded.views(args.unikernel or ())
    hosts = select_hosts(loaded, args.host)
    if len(views) != 1:
        names = ", ".join(v.profile.unikernel.name for v in views)
        raise ConfigError(
            f"a block image is one unikernel's, and profile '{loaded.name}' has several ({names})",
            "say which with --unikernel NAME",
        )
    if len(hosts) != 1:
        raise ConfigError(
            f"a block image is one host's, and profile '{loaded.name}' has several targets "
            f"({', '.join(hosts)})",
            "say which with --host NAME",
        )
    blockio.image_of(views[0].profile, args.device)  # an unknown device before connecting
    local = Path(args.file)
    if args.block_command == "push":
        _check_image_file(local)
    elif local.is_dir() or not local.parent.is_dir():
        raise ConfigError(f"cannot write {local}", "name a file in an existing directory")

    def stream(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
        if args.block_command == "push":
            return blockio.push(pool, lp, host, args.device, local)
        return blockio.pull(pool, lp, host, args.device, local, live=args.live)

    return run_streams(args, out, stream)


def _check_image_file(local: Path) -> None:
    try:
        size = local.stat().st_size if local.is_file() else None
    except OSError:
        size = None
    if size is None:
        raise ConfigError(f"{local} is not a file", "name the image file to push")
    if size < 512 or size % 512:
        raise ConfigError(
            f"{local} is {size} bytes: not whole 512-byte sectors (at least one), which "
            "solo5-hvt refuses ('Backing storage size must be block aligned')",
            "push an image pulled from the host, or pad it: truncate -s %512 FILE",
        )
