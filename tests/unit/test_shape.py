"""The shape docs/ARCHITECTURE.md promises, held by tests: small modules and functions, and
host commands built only at the I/O edge. (Import layers: `lint-imports` in `make test`.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench"
MAX_MODULE = 400
MAX_FUNCTION = 80
# Declarative tables that read best whole: the argparse builder.
LONG_FUNCTIONS_ALLOWED = {("workbench/cli.py", "build_parser")}
# Programs whose command lines only workbench.remote builds (workbench.lab runs its own
# machines locally and is not a client of a host).
HOST_PROGRAMS = {
    "systemctl", "journalctl", "networkctl", "ip", "ifup", "ifdown", "ping", "useradd",
    "groupadd", "flock", "docker", "nft", "sha256sum", "readlink",
}  # fmt: skip
EDGE = ("workbench/remote/", "workbench/lab/")
# What the build runs inside its container (through remote/dockerhost), not on a host.
IN_CONTAINER = ("workbench/engine/build.py", "workbench/engine/buildcontainer.py")


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_module_is_over_400_lines():
    long = {rel(p): n for p in modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE}
    assert long == {}


def test_no_function_is_over_80_lines():
    long = {}
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION and (rel(path), node.name) not in LONG_FUNCTIONS_ALLOWED:
                    long[f"{rel(path)}:{node.lineno} {node.name}"] = n
    assert long == {}


def test_host_commands_are_built_only_in_remote():
    """An argv list whose program is a host tool, outside workbench/remote: the engine asks
    remote for a verb instead."""
    found = []
    for path in modules():
        if rel(path).startswith(EDGE):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple) and node.elts:
                head = [e.value for e in node.elts[:2] if isinstance(e, ast.Constant)]
                if head[:1] and head[0] in HOST_PROGRAMS:
                    found.append(f"{rel(path)}:{node.lineno} {head[0]}")
                elif head == ["sh", "-c"] and rel(path) not in IN_CONTAINER:
                    # a script hides its host commands in a string
                    found.append(f"{rel(path)}:{node.lineno} sh -c")
    assert found == []


def test_the_sudo_wrapper_exists_once():
    uses = [rel(p) for p in modules() if '"sudo", "-n"' in p.read_text()]
    assert uses == ["workbench/remote/connection.py"]


def test_the_headless_path_does_not_load_textual():
    code = "import sys, workbench.headless, workbench.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
