"""The profile loader on mutations of the bundled profiles and on YAML-level attacks: a profile
or the project's own error with FILE:LINE, never another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from workbench.errors import WorkbenchError
from workbench.profiles.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "profiles").glob("*.yaml"))
TEXTS = [p.read_text() for p in BUNDLED]
# Fragments that YAML and our checks treat specially.
FRAGMENTS = [
    "&a ",
    "*a",
    "<<: *a\n",
    "!!python/object:os.system ",
    "!!binary ",
    "? [a]\n: b\n",
    "[",
    "]",
    "{",
    "}",
    "- ",
    ": ",
    "\n  ",
    "\t",
    "\x00",
    "\x1b",
    "\ud800",
    "9" * 5000,
    "1e999",
    "~",
    "null",
    "true",
    "'",
    '"',
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "|\n  x\n",
    ">-\n  x\n",
]


def _load(tmp: Path, text: str) -> None:
    path = tmp / "p.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_file(path)
    except WorkbenchError as exc:
        assert str(exc)


@given(
    st.sampled_from(TEXTS),
    st.lists(
        st.tuples(
            st.floats(0, 1), st.integers(0, 40), st.sampled_from(FRAGMENTS) | st.text(max_size=8)
        ),
        max_size=4,
    ),
)
def test_mutated_bundled_profiles(tmp_path_factory, text, edits):
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    _load(tmp_path_factory.mktemp("p"), text)


@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=10), max_size=12))
def test_yaml_from_fragments(tmp_path_factory, parts):
    _load(tmp_path_factory.mktemp("f"), "".join(parts))
