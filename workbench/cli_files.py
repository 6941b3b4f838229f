"""The command lines of `workbench inspect` and `workbench image`, which work on files on this
machine (kept apart from cli.py, which holds the commands that act on hosts)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.imageformats import FORMATS


def file_parsers(sub: Any, common: argparse.ArgumentParser, profile_help: str) -> None:
    p = sub.add_parser(
        "inspect",
        parents=[common],
        help="show a unikernel's (or a disk image's) arch, Solo5 ABI and devices",
        description="Read a .hvt/.spt/.virtio file: ELF arch, Solo5 ABI note and manifest "
        "devices (what solo5-elftool query-abi / query-manifest report), size and sha256; of a "
        "disk image (`workbench image`: raw, qcow2, GCE tar), its boot loader, the arguments "
        "it boots with and the same of the unikernel in it.",
    )
    p.add_argument("artifact", help="path to the unikernel or image (e.g. dist/hello.hvt)")
    p.add_argument(
        "--target", choices=["hvt", "spt", "virtio"], help="also require this Solo5 target"
    )

    p = sub.add_parser(
        "image",
        parents=[common],
        help="a bootable disk image of a virtio unikernel (raw, qcow2, GCE tar)",
        description="On this machine, with Debian's sfdisk, syslinux, mtools, dosfstools (and "
        "qemu-img for qcow2): a sparse MBR disk (1 GiB, or --size) whose FAT32 partition "
        "holds syslinux, mboot.c32 and the unikernel, booted as a multiboot kernel with the "
        "profile's unikernel.args embedded and the console on the first serial port -- Solo5's "
        "solo5-virtio-mkimage recipe. `workbench inspect IMAGE` reads one back.",
    )
    p.add_argument("--profile", help=profile_help)
    unikernel_option(p)
    p.add_argument("--artifact", help="the .virtio file (default: the unikernel's artifact)")
    p.add_argument("--format", choices=list(FORMATS), default="raw", help="default: raw")
    p.add_argument("--output", default=".", metavar="DIR", help="where to write (default: .)")
    p.add_argument(
        "--size",
        default="1G",
        help="the disk: 64M to 2048G (a plain number is MiB), whole GiB for gce-tar "
        "(default: 1G, sparse)",
    )


def unikernel_option(parser: argparse.ArgumentParser) -> None:
    """--unikernel, as every command that takes a profile's unikernels has it."""
    parser.add_argument(
        "--unikernel",
        action="append",
        metavar="NAME",
        help="only this one of the profile's unikernels (repeatable; default: all)",
    )
