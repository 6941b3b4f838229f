"""Build the lab's tender double: a static ELF (doubles/tender.c) that starts like the real
Solo5 tender, with the Python guest double embedded as a zip (doubles/solo5_hvt.py as its
__main__, doubles/guest_net.py under its package path) that python3 runs as it is.

Cached by a hash of the sources and the arch, so it is compiled once per change.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from workbench.errors import LabError
from workbench.lab import config
from workbench.lab.sysrun import run

COMPILERS = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}


GUEST_MODULES = ("guest_net.py",)  # imported by solo5_hvt.py as workbench.lab.doubles.*


def guest_zip() -> bytes:
    """The guest double as one zip python3 can run (`python3 -I ZIP`): the same bytes for the
    same sources (fixed times, sorted names), so the build cache key holds."""
    doubles = resources.files("workbench.lab.doubles")
    files = {"__main__.py": doubles.joinpath("solo5_hvt.py").read_bytes()}
    for package in ("workbench", "workbench/lab", "workbench/lab/doubles"):
        files[f"{package}/__init__.py"] = b""
    for name in GUEST_MODULES:
        files[f"workbench/lab/doubles/{name}"] = doubles.joinpath(name).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), files[name])
    return buf.getvalue()


def _sources() -> tuple[bytes, bytes]:
    doubles = resources.files("workbench.lab.doubles")
    return guest_zip(), doubles.joinpath("tender.c").read_bytes()


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
