"""Example unikernel sources shipped inside the package, so an installed wheel has them too."""

from __future__ import annotations

from pathlib import Path

# A real directory, not an importlib.resources Traversable: builds read and upload it as files.
HELLO = Path(__file__).resolve().parent / "hello"
