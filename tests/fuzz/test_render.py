"""Rendered files: no accepted profile value adds a word to ExecStart, a line to a unit or
network file. ExecStart is read back with systemd's own rules (systemd.service(5), "Command
lines": specifiers, quoting, C escapes, ';' between commands, $ expansion)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from workbench.profiles import fields
from workbench.profiles.loader import load
from workbench.render import exec_argv, render_all, render_unit

ROOT = Path(__file__).resolve().parents[2]
LAB = load(str(ROOT / "profiles" / "lab.yaml")).profile
WHITESPACE = " \t\n\r"
ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "s": " "}


class NotOneCommand(Exception):
    pass


def systemd_exec_words(line: str) -> list[str]:
    """The argv systemd runs for one ExecStart= value, or NotOneCommand."""
    # Specifiers are resolved on the whole value first: only %% (a literal %) may appear.
    out, i = [], 0
    while i < len(line):
        if line[i] == "%":
            if line[i + 1 : i + 2] != "%":
                raise NotOneCommand(f"specifier %{line[i + 1 : i + 2]}")
            out.append("%")
            i += 2
        else:
            out.append(line[i])
            i += 1
    text, words, i = "".join(out), [], 0
    while True:
        while i < len(text) and text[i] in WHITESPACE:
            i += 1
        if i == len(text):
            break
        if text[i] == ";" and (i + 1 == len(text) or text[i + 1] in WHITESPACE):
            raise NotOneCommand("';' starts another command")
        word, quote = [], None
        while i < len(text):
            ch = text[i]
            if quote is None and ch in WHITESPACE:
                break
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt not in ESCAPES:
                    raise NotOneCommand(f"escape \\{nxt}")
                word.append(ESCAPES[nxt])
                i += 2
                continue
            if quote is None and ch in "\"'":
                quote = ch
            elif ch == quote:
                quote = None
            else:
                word.append(ch)
            i += 1
        if quote is not None:
            raise NotOneCommand("unterminated quote")
        words.append("".join(word))
    # Environment expansion at exec time: $$ is a literal $, anything else would expand.
    expanded = []
    for word in words:
        if "$" in word.replace("$$", ""):
            raise NotOneCommand(f"$ expansion in {word!r}")
        expanded.append(word.replace("$$", "$"))
    return expanded


def exec_start(unit: str) -> str:
    (line,) = [x for x in unit.split("\n") if x.startswith("ExecStart=")]  # systemd: \n only
    return line.removeprefix("ExecStart=")


def with_args(args: list[str]):  # type: ignore[no-untyped-def]
    uk = LAB.unikernel.model_copy(update={"args": tuple(args)})
    return LAB.view(uk)


def valid_arg(arg: str) -> bool:
    try:
        fields._boot_arg(arg)
    except ValueError:
        return False
    return True


# Boot arguments as the profile accepts them (no control characters, no line separators),
# weighted towards what systemd treats specially.
args = st.lists(
    st.text(
        st.sampled_from([*";\"'\\$% =-%ab", "é"])
        | st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        max_size=12,
    ),
    max_size=5,
)


@given(args)
def test_no_accepted_boot_argument_changes_execstart(argv):
    assume(all(valid_arg(a) for a in argv))
    profile = with_args(argv)
    rendered = render_unit(profile).content
    assert systemd_exec_words(exec_start(rendered)) == exec_argv(profile, None)
    assert len(rendered.splitlines()) == len(render_unit(LAB).content.splitlines())


def test_unicode_line_separators_are_not_boot_arguments():
    assert not valid_arg("a\u2028b") and not valid_arg("a\x85b")


@pytest.mark.parametrize("arg", [";", "a b", '"', "'", "\\", "$HOME", "%n", "${X}", "", " ; "])
def test_arguments_that_broke_the_unit(arg):
    profile = with_args(["--ipv4=10.0.0.2/24", arg])
    assert systemd_exec_words(exec_start(render_unit(profile).content))[-1] == arg


def test_the_parser_knows_a_separator_when_it_sees_one():
    with pytest.raises(NotOneCommand):
        systemd_exec_words("/bin/a x ; /bin/b")
    assert systemd_exec_words('/bin/a ";" x') == ["/bin/a", ";", "x"]


@given(args)
def test_no_accepted_value_adds_a_line_to_any_rendered_file(argv):
    assume(all(valid_arg(a) for a in argv))
    for backend in ("systemd-networkd", "ifupdown"):
        base = {f.path: f.content.count("\n") for f in render_all(LAB, backend)}
        new = {f.path: f.content.count("\n") for f in render_all(with_args(argv), backend)}
        assert new == base


def test_the_wait_for_taps_is_one_command_systemd_reads_as_meant():
    uk = LAB.unikernel.model_copy(update={"networks": {"service": "tap100", "admin": "tap-b.1"}})
    unit = render_unit(LAB.view(uk)).content
    (line,) = [x for x in unit.split("\n") if x.startswith("ExecStartPre=")]
    words = systemd_exec_words(line.removeprefix("ExecStartPre="))
    assert words[:2] == ["/bin/sh", "-c"] and words[3:] == [
        "workbench-wait-for-taps",
        "tap-b.1",
        "tap100",
    ]
    assert 'for t in "$@"' in words[2] and "$$" not in words[2]


def test_no_taps_no_wait():
    uk = LAB.unikernel.model_copy(update={"networks": {}})
    assert "ExecStartPre" not in render_unit(LAB.view(uk)).content
