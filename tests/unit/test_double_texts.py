"""Every line the tender double can print has a source (docs/DOUBLES.md), and the source says it.

The texts are read from the double itself: the format strings of tender.c's warnx/errx/err/
fprintf calls and usage tables, and the arguments of solo5_hvt.py's and guest_net.py's output
calls, each as a template where `{}` stands for a variable part. A template the doc does not
list fails, so a new line cannot enter the double without its source. A citation of the
reference (`ref §N`) must match that section's text; a citation of a source file
(`owner/repo@rev path:line`) is checked against the stored source when it is on this machine.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.reference import REFERENCE

ROOT = Path(__file__).resolve().parents[2]
DOUBLES = ROOT / "workbench" / "lab" / "doubles"
DOC = ROOT / "docs" / "DOUBLES.md"
MIRRORS = Path("/work/.mirror")
HOLE = "{}"
# Lines only the double prints, by design: its notice, and its own start-up failures (no python3,
# no memfd), which end a run before anything a real tender would do.
DOUBLE_ONLY = {
    "{}: WARNING: this is the workbench lab double of {} v0.12.1, not the real tender",
    "{}: the lab double could not stage its guest: {}",
    "{}: the workbench lab tender double needs /usr/bin/python3 on this host: {}",
}

OUTPUT_HELPERS = {"out", "solo5", "warnx", "log", "log_line", "connected"}
# The played application's lines (an artifact's spec asks for them), in mirage-logs' format.
APPLICATION = {"{}: [{}] [{}] {}", "{}: [INFO] [http] {}", "{}: [INFO] [spam] line {}"}
_C_FORMAT = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t)?[diouxXsc]")
_C_STRINGS = r'((?:"(?:\\.|[^"\\])*"\s*)+)'
_C_CALL = re.compile(r"\b(warnx|errx|err|fprintf)\s*\(\s*(?:\d+|stderr)?\s*,?\s*" + _C_STRINGS)
_C_TABLE = re.compile(r"static const char \w+\[\] =\s*" + _C_STRINGS + ";")


def _c_literal(group: str) -> str:
    parts = re.findall(r'"((?:\\.|[^"\\])*)"', group)
    text = "".join(parts).encode().decode("unicode_escape")
    return _C_FORMAT.sub(HOLE, text).replace("%%", "%")


def c_templates(source: str) -> set[str]:
    out = set()
    for call, group in _C_CALL.findall(source):
        text = _c_literal(group)
        if call in ("warnx", "errx", "err"):
            text = "{}: " + text + (": {}" if call == "err" else "")
        out |= set(text.split("\n"))
    for group in _C_TABLE.findall(source):
        out |= set(_c_literal(group).split("\n"))
    return out


def _py_text(node: ast.expr, constants: dict[str, str]) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, ast.JoinedStr):
        return "".join(_py_text(v, constants) for v in node.values)
    return HOLE


def py_templates(source: str) -> set[str]:
    tree = ast.parse(source)
    constants = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
        if isinstance(n.value.value, str)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    inside_helpers = {  # the output helpers' own bodies compose, they print nothing new
        id(call)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef) and fn.name in OUTPUT_HELPERS
        for call in ast.walk(fn)
    }
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inside_helpers:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        name = node.func.id if isinstance(node.func, ast.Name) else name
        args = [_py_text(a, constants) for a in node.args]
        if name == "out":
            text = args[0]
        elif name == "solo5":
            text = "Solo5: " + args[0]
        elif name == "warnx":
            text = "{}: " + args[0]
        elif name in ("log", "log_line") and len(args) == 3:
            text = "{}: [" + args[0] + "] [" + args[1] + "] " + args[2]
        elif name == "connected":
            text = "{}: [INFO] [" + args[0] + "] " + args[1]
        else:
            continue
        out |= set(text.split("\n"))
    return out


def double_templates() -> set[str]:
    found = c_templates((DOUBLES / "tender.c").read_text())
    for module in ("solo5_hvt.py", "guest_net.py"):
        found |= py_templates((DOUBLES / module).read_text())
    return {t for t in found if t.replace(HOLE, "").strip()}  # a bare hole says nothing


_ROW = re.compile(r"^\| ``(?P<text>.*?)`` \| (?P<sources>.+?) \|$")


def doc_rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text().splitlines():
        if m := _ROW.match(line):
            rows[m["text"].replace("\\|", "|")] = m["sources"]
    return rows


def test_every_line_the_double_can_print_has_a_documented_source():
    undocumented = sorted(double_templates() - doc_rows().keys())
    assert undocumented == [], "add these to docs/DOUBLES.md with their source"


def test_the_doc_lists_no_line_the_double_cannot_print():
    assert sorted(doc_rows().keys() - double_templates()) == []


def test_only_the_notice_and_the_doubles_own_failures_have_no_real_source():
    own = {text for text, sources in doc_rows().items() if sources.startswith("double:")}
    assert own == DOUBLE_ONLY
    played = {text for text, sources in doc_rows().items() if sources.startswith("app:")}
    assert played == APPLICATION


def _sections() -> dict[str, str]:
    text = REFERENCE.read_text()
    return {m[1]: m[2] for m in re.finditer(r"^## (\d+)\.(.*?)(?=^## |\Z)", text, re.S | re.M)}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(".*?".join(re.escape(part) for part in template.split(HOLE)))


_LOG_HEADER = re.compile(r"^\{\}: \[[^\]]*\] \[[^\]]*\] ")  # mirage-logs' part of a line


def _fragment(template: str) -> str:
    """What the cited source line must hold: the longest literal piece of the message (split at
    holes and at ": ", the tenders' separator), whitespace collapsed."""
    pieces = re.split(r"\{\}|: ", _LOG_HEADER.sub("", template))
    return max((" ".join(piece.split()) for piece in pieces), key=len)


def _source_window(repo: str, rev: str, path: str, line: int) -> str | None:
    mirror = MIRRORS / repo.replace("/", "+") / "repo"
    if not mirror.is_dir():
        return None
    shown = subprocess.run(
        ["git", "-C", str(mirror), "show", f"{rev}:{path}"], capture_output=True, text=True
    )
    assert shown.returncode == 0, f"{repo}@{rev} has no {path}"
    window = "\n".join(shown.stdout.splitlines()[max(0, line - 4) : line + 8])
    window = re.sub(r'"\s*\n\s*"|"\s+"', "", window)  # C's adjacent literals, joined
    return " ".join(window.replace("\\n", " ").split())


_CITE = re.compile(
    r"(?P<repo>[\w.-]+/[\w.-]+)@(?P<rev>[\w.-]+) (?P<path>[\w./-]+)"
    r"(?::(?P<line>\d+)|#(?P<symbol>\w+))(?: \(.*\))?"
)


def _supported(template: str, citation: str, sections: dict[str, str]) -> bool | None:
    """True if the citation shows the template, False if it does not, None if not checkable
    here (the cited repository is not on this machine)."""
    if m := re.fullmatch(r"ref §(\d+)(?: \(.*\))?", citation):
        return _pattern(template).search(sections[m[1]]) is not None
    m = _CITE.fullmatch(citation)
    assert m, (
        f"a source is `ref §N`, `owner/repo@rev path:line|#fn`, `app:` or `double:`: {citation}"
    )
    if m["symbol"]:
        return None  # a function named, not a line: read by a person
    window = _source_window(m["repo"], m["rev"], m["path"], int(m["line"]))
    return None if window is None else _fragment(template) in window


@pytest.mark.parametrize("text", sorted(doc_rows()))
def test_each_source_shows_the_line(text):
    sources = doc_rows()[text]
    if sources.startswith(("double:", "app:")):
        return
    sections = _sections()
    verdicts = [_supported(text, c.strip(), sections) for c in sources.split("; ")]
    # a citation that shows it, or one that cannot be checked here; not only wrong ones
    assert any(v is not False for v in verdicts), f"no citation shows {text!r}: {sources}"
