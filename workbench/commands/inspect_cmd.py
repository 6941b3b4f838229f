"""`workbench inspect ARTIFACT`: what a unikernel file declares, or a disk image boots."""

from __future__ import annotations

import argparse
from pathlib import Path

from workbench import diskimage
from workbench.artifacts.elf import ArtifactInfo, inspect, require_target
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    path = Path(args.artifact)
    if path.is_file() and diskimage.looks_like_image(path):
        return _image(diskimage.read(path), args, out)
    info = inspect(args.artifact)
    if args.target:
        require_target(info, args.target)
    if out.json:
        out.data(info.to_dict())
        return 0
    _show(info, out)
    return 0


def _image(image: diskimage.DiskImage, args: argparse.Namespace, out: Output) -> int:
    if args.target:
        require_target(image.kernel, args.target)
    if out.json:
        out.data(image.to_dict())
        return 0
    out.line(f"{image.path}: a {image.format} disk image")
    out.line(
        f"  partition at {image.partition_start} bytes, {image.partition_size >> 20} MiB "
        "(FAT32, syslinux)"
    )
    out.line(f"  boots    {image.kernel.path} with {image.loader} (multiboot)")
    out.line(f"  args     {image.args or '(none)'}")
    _show(image.kernel, out)
    return 0


def _show(info: ArtifactInfo, out: Output) -> None:
    assert info.abi is not None
    devices = ", ".join(f"{d.name} ({d.type})" for d in info.devices or ()) or "none"
    if info.devices is None:
        devices = "no manifest (built for Solo5 < 0.6.0)"
    out.line(info.path)
    out.line(f"  arch     {info.machine} (ELF{info.elf_class})")
    out.line(f"  solo5    {info.abi.target}, ABI version {info.abi.version}")
    out.line(f"  devices  {devices}")
    out.line(f"  size     {info.size} bytes")
    out.line(f"  sha256   {info.sha256}")
