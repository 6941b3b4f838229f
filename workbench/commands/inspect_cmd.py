"""`workbench inspect ARTIFACT`: what a unikernel file declares."""

from __future__ import annotations

import argparse

from workbench.artifacts.elf import inspect, require_target
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    info = inspect(args.artifact)
    if args.target:
        require_target(info, args.target)
    if out.json:
        out.data(info.to_dict())
        return 0
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
    return 0
