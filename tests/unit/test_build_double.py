"""The lab's `dune` double reads the guest's behaviour from the unikernel's source: what it logs
at boot and what each HTTP path answers. A lab test of a failing health check needs a source
whose health page fails, so the routes must be the source's, not 200 for every path."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

from workbench.examples import HELLO

DUNE = Path(__file__).resolve().parents[2] / "workbench" / "lab" / "image" / "dune"


def dune() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("lab_dune_double", str(DUNE))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_example_answers_as_its_route_table_says():
    spec = dune().guest_spec([HELLO / "unikernel.ml"])
    assert spec["listen"] == [
        {
            "port": 8080,
            "http": {
                "/health": [200, "ok\n"],
                "/": [200, "hello from a MirageOS unikernel\n"],
            },
        }
    ]
    assert spec["logs"] == [
        {"level": "INFO", "src": "application", "msg": "serving HTTP on port 8080"}
    ]


def test_a_failing_health_page_is_served_as_written(tmp_path):
    text = (HELLO / "unikernel.ml").read_text()
    broken = text.replace(
        '"/health" -> ("200 OK", "ok\\n")',
        '"/health" -> ("500 Internal Server Error", "db \\"down\\"\\n")',
    )
    assert broken != text
    (tmp_path / "unikernel.ml").write_text(broken)
    http = dune().guest_spec([tmp_path / "unikernel.ml"])["listen"][0]["http"]
    assert http["/health"] == [500, 'db "down"\n']


def test_the_first_arm_for_a_path_wins_and_unrouted_strings_are_not_pages(tmp_path):
    (tmp_path / "unikernel.ml").write_text(
        'let port = 8081\nlet docs = "/usr/share/doc"\n'
        'let route = function\n  | "/a" -> ("204 No Content", "")\n'
        '  | "/a" -> ("200 OK", "never")\n  | _ -> ("404 Not Found", "not found\\n")\n'
    )
    spec = dune().guest_spec([tmp_path / "unikernel.ml"])
    assert spec["listen"] == [{"port": 8081, "http": {"/a": [204, ""]}}]


def test_the_artifact_changes_when_the_source_does(tmp_path):
    """A comment edited in the source is a new binary for a real compiler's build (and for
    the double's): the next deploy must not say "nothing to do"."""
    (tmp_path / "config.ml").write_text((HELLO / "config.ml").read_text())
    src = tmp_path / "unikernel.ml"
    src.write_text((HELLO / "unikernel.ml").read_text())
    files = sorted(tmp_path.glob("*.ml"))
    before = dune().source_digest(files)
    assert before == dune().source_digest(files)  # the same sources, the same digest
    src.write_text(src.read_text() + "\n(* edited *)\n")
    assert dune().source_digest(files) != before
    # What the build reads, wherever it is; not what configure and depend wrote.
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.mli").write_text("val x : int\n")
    (tmp_path / "duniverse").mkdir()
    (tmp_path / "duniverse" / "dep.ml").write_text("let y = 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in dune().source_files(tmp_path)]
    assert found == ["config.ml", "lib/util.mli", "unikernel.ml"]
