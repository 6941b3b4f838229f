"""Block images (Solo5 BLOCK_BASIC): what deploy creates or grows on a host, and what it
refuses -- an image that is missing with no size to make it, that is not a regular file, or
that is larger than the profile asks (never shrunk: the unikernel's data would be cut off)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import ConfigError
from workbench.numbers import to_int
from workbench.profiles.models import Profile
from workbench.remote.facts import HostFacts


@dataclass(frozen=True)
class BlockWork:
    path: str
    size: int  # bytes: what the image is made or grown to
    have: int | None  # its size now; None when it does not exist


def size_text(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def block_work(p: Profile, facts: HostFacts, host: str) -> tuple[BlockWork, ...]:
    """The sized images to create or grow; a refusal for an image that is missing and has no
    size to make it, that is not a regular file, or that is larger than asked (never shrunk:
    that would cut off the unikernel's data)."""
    sizes = p.block_sizes
    out = []
    for device, path in sorted(p.block_paths.items(), key=lambda kv: kv[1]):
        have = facts.blocks.get(path, "")
        words = have.split(" ", 2)
        size = to_int(words[0]) if have else None
        if have and (size is None or len(words) < 3 or "regular" not in words[2]):
            kind = words[2] if len(words) == 3 else have
            raise ConfigError(
                f"block image {path} (device {device}) on {host} is not a regular file ({kind})",
                "point unikernel.block at a file, or move that out of the way",
            )
        want = sizes.get(path)
        if want is None:
            if not have:
                raise ConfigError(
                    f"block image {path} (device {device}) does not exist on {host}",
                    f"give it a size in the profile (block: {{{device}: {{size: 64M}}}}) and "
                    f"deploy creates it, or create it there: truncate -s 64M {path}; "
                    f"chown {p.service.user} {path}",
                )
            continue
        if have and path in sizes and words[1] != p.service.user:  # ours: made as that user
            raise ConfigError(
                f"block image {path} (device {device}) on {host} belongs to {words[1]}, and "
                f"the unikernel runs as {p.service.user}: it could not open it",
                f"on {host}: chown {p.service.user} {path} (deploy made it as that user)",
            )
        if size is None:
            out.append(BlockWork(path, want, None))
        elif size < want:
            out.append(BlockWork(path, want, size))
        elif size > want:
            raise ConfigError(
                f"block image {path} (device {device}) on {host} is {size_text(size)}, and the "
                f"profile asks for {size_text(want)}: deploy never shrinks an image (the "
                "unikernel's data past the new end would be lost)",
                f"set its size to {size_text(size)} or more; to shrink it, do it yourself with the "
                "unikernel stopped, once its filesystem fits",
            )
    return tuple(out)


def describe(blocks: tuple[BlockWork, ...]) -> tuple[str, str]:
    """The block change as plan says it: what, and why."""
    what = ", ".join(
        f"{'create' if b.have is None else 'grow'} {b.path} ({size_text(b.size)})" for b in blocks
    )
    why = "; ".join(
        "it does not exist" if b.have is None else f"it is {size_text(b.have)}" for b in blocks
    )
    return what, why
