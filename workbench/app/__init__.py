"""The Textual front end. `run()` is what `workbench` without a command starts."""

from __future__ import annotations

import sys


def run(names: list[str] | None = None, *, accept_new_host_key: bool = False) -> int:
    from workbench.app.backend import EngineBackend
    from workbench.errors import ConfigError

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError(
            "the terminal UI needs a terminal (stdin and stdout are not one)",
            "run `workbench` in a terminal, or use the headless commands: workbench --help",
        )
    backend = EngineBackend(names, accept_new_host_key=accept_new_host_key)
    from workbench.app.main import WorkbenchApp

    app = WorkbenchApp(backend)
    app.run()
    return app.return_code or 0
