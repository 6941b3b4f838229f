"""Run host commands for the lab with a deadline; failures become LabError with the command's
own last words, so `workbench lab up` says exactly what broke."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from workbench.errors import LabError


def run(
    argv: Sequence[str],
    *,
    timeout: float = 60,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    what: str | None = None,
    hint: str | None = None,
) -> subprocess.CompletedProcess[bytes]:
    label = what or shlex.join(argv)
    try:
        result = subprocess.run(
            list(argv), input=input, capture_output=True, timeout=timeout, env=env, check=False
        )
    except FileNotFoundError:
        raise LabError(
            f"{label}: {argv[0]} is not installed",
            hint or "run `workbench lab up --install-deps` (or `make setup`)",
        ) from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{label}: no answer within {timeout:.0f} s", hint) from None
    if check and result.returncode != 0:
        tail = result.stderr.decode(errors="replace").strip().splitlines()[-5:]
        detail = "; ".join(tail) or f"exit status {result.returncode}"
        raise LabError(f"{label} failed: {detail}", hint)
    return result


def out(argv: Sequence[str], **kwargs: object) -> str:
    return run(argv, **kwargs).stdout.decode(errors="replace")  # type: ignore[arg-type]
