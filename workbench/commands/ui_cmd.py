"""`workbench` (no command) and `workbench ui`: the terminal UI. textual is imported only here,
when it runs."""

from __future__ import annotations

import argparse

from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    from workbench import app

    return app.run(
        getattr(args, "profile", None) or None,
        accept_new_host_key=getattr(args, "accept_new_host_key", False),
    )
