"""The wheel is the product: built from this checkout and installed into a fresh virtualenv, it
runs on its own, with every data file the package reads at run time.

Offline: the wheel is built with this venv's setuptools (no build isolation) and installed with
--no-index --no-deps; the new venv sees this venv's third-party packages through a .pth file
(which appends to sys.path, after the venv's own site-packages, and runs no .pth of theirs, so
the editable install of the checkout stays out). Every command runs from a directory outside
the checkout, and the test checks that `workbench` was imported from the new venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What the issue named, checked by name even where `git ls-files` cannot say what is tracked.
REQUIRED_IN_WHEEL = (
    "workbench/lab/doubles/tender.c",
    "workbench/lab/doubles/solo5_hvt.py",
    "workbench/lab/solo5elf.py",
    *(f"workbench/lab/image/{n}" for n in ("Dockerfile", "opam", "mirage", "dune", "ocaml")),
    "workbench/examples/hello/config.ml",
    "workbench/examples/hello/unikernel.ml",
    "workbench/templates/unikernel.service",
    "workbench/templates/nat.nft",
    "workbench/app/screens/dashboard.tcss",
)

# Left out of the copy the wheel is built from when this is not a git checkout.
_JUNK_ANYWHERE = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", "_build", "duniverse"}
_JUNK_AT_TOP = {".venv", ".venv-bench", "build", "dist", ".lab"}

# Run by the new venv's python: what `lab up`, `lab up --fleet`, `render` and the TUI read at
# run time, each check on its own so that one failure does not hide the others.
PROBE = r"""
import json, sys, tempfile
from pathlib import Path

import workbench

out = {"workbench": workbench.__file__}


def check(name, fn):
    try:
        out[name] = fn()
    except Exception as exc:
        out[name] = f"{type(exc).__name__}: {exc}"


def context():  # what `lab up` sends to `docker build` for the lab build image
    from workbench.lab import builder

    with tempfile.NamedTemporaryFile() as tender:  # stands in for the compiled tender double
        return sorted(builder._context_files(Path(tender.name)))


def tender_c():  # what `lab up` compiles into the tender double
    from workbench.lab import tender_double

    return len(tender_double._sources()[1])


def fleet_source():  # the example `lab up --fleet N` writes into its profile
    from workbench.lab import fleet

    lines = [ln for ln in fleet.profile_text([]).splitlines() if ln.startswith("  source: ")]
    return lines[0].removeprefix("  source: ")


def templates():
    from workbench import render

    names = ("unikernel.service", "nat.nft")
    return {n: len(render.template(n).template) for n in names}


def css():  # each screen's CSS_PATH, which Textual reads next to the screen's module
    import workbench.app.main  # imports every screen

    found = {}
    for name, module in sorted(sys.modules.items()):
        if name.startswith("workbench.app.screens."):
            for value in vars(module).values():
                rel = getattr(value, "CSS_PATH", None)
                if isinstance(rel, str) and getattr(value, "__module__", None) == name:
                    path = Path(module.__file__).parent / rel
                    found[str(path)] = path.is_file()
    return found


for fn in (context, tender_c, fleet_source, templates, css):
    check(fn.__name__, fn)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    cwd: Path  # outside the checkout: nothing there to import workbench from

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *argv: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return _run([str(a) for a in argv], cwd=self.cwd, timeout=timeout)

    def workbench(self, *args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run(self.venv / "bin" / "workbench", *args, timeout=timeout)


def _clean_env() -> dict[str, str]:
    # PYTHONPATH (set when testing a worktree) would bring the checkout's package back in.
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _run(
    argv: list[str], cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env if env is not None else _clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _must(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {result.returncode}): {_shown(result.args)}\n"
            f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result.stdout


def _shown(argv: list[str]) -> str:
    return " ".join(a if len(a) < 200 else a[:60] + "..." for a in argv)


def _source_files() -> list[str]:
    """The checkout's files, relative: what git tracks, or a walk without build leftovers."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False
        )
        if listed.returncode == 0:
            names = listed.stdout.decode().split("\0")
            return sorted(n for n in names if n and (ROOT / n).is_file())  # not deleted ones
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if not path.is_file() or rel.parts[0] in _JUNK_AT_TOP or path.suffix == ".pyc":
            continue
        if any(p in _JUNK_ANYWHERE or p.endswith(".egg-info") for p in rel.parts):
            continue
        files.append(rel.as_posix())
    return sorted(files)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    have = metadata.version("setuptools")
    if int(have.split(".")[0]) < 77:
        pytest.fail(
            f"setuptools {have} in {sys.prefix} cannot build this project (license = 'ISC' needs "
            ">= 77): run `make setup` (the dev extra brings it)",
            pytrace=False,
        )
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the checkout: setuptools writes build/ and *.egg-info into the
    # source tree, and a stale build/lib there could put removed files into the wheel.
    src = tmp / "src"
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    dist = tmp / "dist"
    # The build keeps this test's environment (PYTHONPATH included): it is this venv's build.
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    build += ["--no-index", "-q", "-w", str(dist), str(src)]
    _must(_run(build, cwd=tmp, timeout=180, env=dict(os.environ)), "building the wheel")
    wheels = sorted(dist.glob("workbench-*.whl"))
    assert len(wheels) == 1, f"expected one workbench wheel in {dist}, found {wheels}"

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    install += ["--no-deps", "--no-index", "-q", str(wheels[0])]
    _must(_run(install, cwd=tmp, timeout=120), "installing the wheel into a new venv")
    purelib = _must(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp),
        "asking the new venv for its site-packages",
    ).strip()
    # This venv's third-party packages (textual, asyncssh, pydantic, ...), after the wheel's.
    ours = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    (Path(purelib) / "_workbench_test_deps.pth").write_text("".join(f"{p}\n" for p in ours))
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    return Installed(wheels[0], env_dir, cwd)


def test_the_wheel_holds_every_file_under_workbench(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
    tracked = {n for n in _source_files() if n.startswith("workbench/")}
    missing = sorted((tracked | set(REQUIRED_IN_WHEEL)) - names)
    assert not missing, (
        f"{installed.wheel.name} lacks files the package reads at run time: {missing}; "
        "add them to [tool.setuptools.package-data] in pyproject.toml"
    )
    strays = sorted(n for n in names if n.startswith(("examples/", "tests/", "profiles/")))
    assert not strays, f"files outside the package in the wheel: {strays}"


def test_the_installed_package_is_the_wheel_and_finds_its_data(installed: Installed) -> None:
    info = json.loads(_must(installed.run(installed.python, "-c", PROBE), "the import probe"))
    venv_dir = installed.venv.resolve()
    module = Path(info["workbench"]).resolve()
    assert module.is_relative_to(venv_dir), f"workbench imported from {module}, not the wheel"

    image = [
        "Dockerfile",
        "dune",
        "mirage",
        "ocaml",
        "opam",
        "solo5-hvt",
        "solo5elf.py",
        "virtio-guest.bin",
    ]
    assert info["context"] == image, "lab build image context: " + str(info["context"])
    assert isinstance(info["tender_c"], int) and info["tender_c"] > 0, info["tender_c"]
    hello = Path(info["fleet_source"]).resolve()
    assert hello.is_relative_to(venv_dir), f"`lab up --fleet` source {hello} is not the wheel's"
    assert (hello / "config.ml").is_file(), f"`lab up --fleet` source {hello} has no config.ml"
    assert isinstance(info["templates"], dict), info["templates"]
    assert all(info["templates"].values()), info["templates"]
    assert isinstance(info["css"], dict) and len(info["css"]) >= 6, info["css"]
    for path, exists in info["css"].items():
        assert exists and Path(path).resolve().is_relative_to(venv_dir), (path, exists)


def test_version(installed: Installed) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = installed.workbench("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"workbench {version}\n", "")


def test_inspect_a_lab_artifact(installed: Installed) -> None:
    # Made as the lab's build-image double makes dist/hello.hvt: the wheel's own solo5elf.py.
    art = installed.cwd / "hello.hvt"
    made = installed.run(
        installed.python, "-m", "workbench.lab.solo5elf", art, "x86_64", "hvt", "service:NET_BASIC"
    )
    _must(made, "writing a Solo5 ELF with the installed workbench.lab.solo5elf")

    human = installed.workbench("inspect", art)
    assert human.returncode == 0, human.stderr
    assert human.stdout.splitlines()[:4] == [
        str(art),
        "  arch     x86_64 (ELF64)",
        "  solo5    hvt, ABI version 2",
        "  devices  service (NET_BASIC)",
    ]
    data = json.loads(_must(installed.workbench("inspect", art, "--json"), "inspect --json"))
    assert data["abi"] == {"type": "solo5.abi", "target": "hvt", "version": 2}
    assert data["manifest"]["devices"] == [{"name": "service", "type": "NET_BASIC"}]
    wrong = installed.workbench("inspect", art, "--target", "spt")
    assert wrong.returncode == 7, wrong.stderr  # 7: unusable artifact
    assert "Traceback" not in wrong.stderr


def test_render_with_the_installed_templates(installed: Installed) -> None:
    # A profile in ./profiles of the working directory, as a user of the wheel keeps them.
    profiles = installed.cwd / "profiles"
    profiles.mkdir(exist_ok=True)
    shutil.copy(ROOT / "profiles" / "x86-server.yaml", profiles)
    result = installed.workbench("render", "--profile", "x86-server", "--backend", "ifupdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "tests" / "golden" / "x86-server.ifupdown.txt").read_text()


def test_lab_status(installed: Installed) -> None:
    """`lab status` reports and exits 0 whether or not the lab is up (another process may have
    it up): each host is listed as `down`, or `up` with its ssh state, then the key's path."""
    # Down, it answers at once; up, it asks each host over SSH (20 s at most each, a fleet too).
    slow = 600
    result = installed.workbench("lab", "status", timeout=slow)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"target +10\.213\.0\.2 +(down|up  .*)", lines[0]), lines
    assert re.fullmatch(r"builder +10\.213\.0\.3 +(down|up  .*)", lines[1]), lines
    assert lines[-1].startswith("key /var/lib/workbench-lab/id_ed25519, known_hosts "), lines

    as_json = installed.workbench("lab", "status", "--json", timeout=slow)
    data = json.loads(_must(as_json, "lab status --json"))
    hosts = data["hosts"]
    assert {"target", "builder"} <= set(hosts), hosts
    for name, host in hosts.items():
        assert isinstance(host["running"], bool), (name, host)
        assert host["running"] or not host["ssh"], (name, host)  # ssh only on a running host
