"""The TUI's profiles follow the files on disk: a fixed profile loads on reload, a broken one
says why, and the connections of a profile whose hosts changed are kept open (a deploy or follow
may be using them) until the app closes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from workbench.app.backend import EngineBackend

ROOT = Path(__file__).resolve().parents[2]


class FakePool:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True


def test_reload_follows_the_files_and_keeps_pools_in_use_open(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    path = tmp_path / "profiles" / "pi.yaml"
    good = (ROOT / "profiles" / "rpi3b.yaml").read_text()
    path.write_text(good.replace("address:", "adress:", 1))
    backend = EngineBackend()
    (entry,) = backend.profiles()
    assert entry.error and "address: required key is missing" in entry.error
    assert not backend.changed()

    path.write_text(good)
    os.utime(path, ns=(1, 1))  # a write within the same clock tick still differs in size
    assert backend.changed()
    asyncio.run(backend.reload())
    (entry,) = backend.profiles()
    assert entry.error is None and entry.targets
    assert not backend.changed()

    pool = FakePool()
    backend._pools["pi"] = pool  # type: ignore[assignment]
    path.write_text(good.replace("address: rpi3b.local", "address: rpi3b-2.local", 1))
    asyncio.run(backend.reload())
    assert "pi" not in backend._pools and not pool.closed, "retired, not cut"
    asyncio.run(backend.close())
    assert pool.closed


def test_a_named_profile_that_went_away_says_so_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    path = tmp_path / "profiles" / "pi.yaml"
    path.write_text((ROOT / "profiles" / "rpi3b.yaml").read_text())
    backend = EngineBackend(["pi"])
    path.unlink()
    assert backend.changed()
    asyncio.run(backend.reload())
    (entry,) = backend.profiles()
    assert entry.error and "no profile named 'pi'" in entry.error
    assert not backend.changed(), "not reloaded again every second"
