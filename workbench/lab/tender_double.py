"""Build the lab's tender double: a static ELF (doubles/tender.c) that starts like the real
Solo5 tender, with the Python guest double (doubles/solo5_hvt.py) embedded.

Cached by a hash of the sources and the arch, so it is compiled once per change.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config
from workbench.lab.sysrun import run

COMPILERS = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


def _sources() -> tuple[bytes, bytes]:
    doubles = resources.files("workbench.lab.doubles")
    return (
        doubles.joinpath("solo5_hvt.py").read_bytes(),
        doubles.joinpath("tender.c").read_bytes(),
    )


def build(arch: str = "x86_64") -> Path:
    script, tender = _sources()
    key = hashlib.sha256(script + tender + arch.encode()).hexdigest()[:16]
    out = config.CACHE_DIR / f"solo5-hvt-double-{arch}-{key}"
    if out.is_file():
        return out
    compiler = COMPILERS.get(arch)
    if compiler is None or shutil.which(compiler) is None:
        package = "gcc libc6-dev" if arch == "x86_64" else "gcc-aarch64-linux-gnu"
        raise LabError(
            f"cannot build the {arch} tender double: {compiler or 'a compiler'} is missing",
            f"apt-get install {package} (or `workbench lab up --install-deps`)",
        )
    config.CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "tender.c").write_bytes(tender)
        (work / "script.inc").write_text(",".join(str(b) for b in script) + ",\n")
        run(
            [
                compiler,
                "-static",
                "-Os",
                "-s",
                "-o",
                str(work / "solo5-hvt"),
                "-Wall",
                "-Werror",
                str(work / "tender.c"),
            ],
            timeout=120,
            what=f"compiling the {arch} tender double",
        )
        shutil.copy(work / "solo5-hvt", out.with_suffix(".tmp"))
        out.with_suffix(".tmp").rename(out)
    out.chmod(0o755)
    return out
