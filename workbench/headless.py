"""Headless front end: runs a command, prints data on stdout and diagnostics on stderr.

Human-readable lines by default, JSON with --json. Every `WorkbenchError` becomes a message,
a hint and the exit code of its class; anything else is a bug: exit 70, traceback with --debug.
Never imports textual.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable
from typing import TextIO

from workbench.aio import Interrupted
from workbench.errors import INTERNAL_ERROR_EXIT, INTERRUPTED_EXIT, WorkbenchError
from workbench.textsafe import sanitize, sanitize_lines


class Output:
    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None):
        self.json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def line(self, text: str = "") -> None:
        # What commands print holds text that is not ours (paths, device names, descriptions,
        # release ids read back from hosts): no terminal controls reach the terminal.
        print(sanitize_lines(text), file=self.out)

    def data(self, obj: object) -> None:
        print(json.dumps(obj, sort_keys=False), file=self.out)

    def diag(self, text: str) -> None:
        print(text, file=self.err)


def run(args: argparse.Namespace, out: Output | None = None) -> int:
    out = out or Output(getattr(args, "json", False))
    handler = _handler(args.command)
    try:
        return handler(args, out)
    except WorkbenchError as exc:
        report_error(exc, out)
        return exc.exit_code
    except KeyboardInterrupt:
        out.diag("interrupted")
        return INTERRUPTED_EXIT
    except Interrupted as exc:
        out.diag(f"interrupted ({exc})")
        return exc.exit_code
    except Exception:
        if getattr(args, "debug", False):
            traceback.print_exc(file=out.err)
        else:
            out.diag(
                "workbench: internal error (a bug, not your input). "
                "Rerun with --debug for the traceback and report it."
            )
        return INTERNAL_ERROR_EXIT


def report_error(exc: WorkbenchError, out: Output) -> None:
    if out.json:
        print(json.dumps({"event": "error", **exc.to_dict()}), file=out.err)
        return
    # Multi-line messages (a profile's problems) keep their lines; each is sanitised.
    out.diag("error: " + "\n".join(sanitize(line) for line in str(exc).split("\n")))
    if exc.hint:
        out.diag(f"hint: {sanitize(exc.hint)}")


# command -> "module:function"; only the module of the command that runs is imported (the
# deploy stack pulls in asyncssh, which `workbench ui` and `profiles` must not wait for).
HANDLERS = {
    "build": "build_cmd:run",
    "check": "hostops_cmd:run_check",
    "deploy": "deploy_cmd:run",
    "logs": "hostops_cmd:run_logs",
    "plan": "hostops_cmd:run_plan",
    "restart": "hostops_cmd:run_restart",
    "stop": "hostops_cmd:run_stop",
    "start": "hostops_cmd:run_start",
    "rollback": "hostops_cmd:run_rollback",
    "remove": "remove_cmd:run",
    "ps": "ps_cmd:run",
    "metrics": "metrics_cmd:run_metrics",
    "top": "metrics_cmd:run_top",
    "block": "block_cmd:run",
    "status": "hostops_cmd:run_status",
    "lab": "lab_cmd:run",
    "profiles": "profiles_cmd:run",
    "render": "render_cmd:run",
    "inspect": "inspect_cmd:run",
    "image": "image_cmd:run",
    "ui": "ui_cmd:run",
}


def _handler(command: str) -> Callable[[argparse.Namespace, Output], int]:
    import importlib

    module, function = HANDLERS[command].split(":")
    return getattr(importlib.import_module(f"workbench.commands.{module}"), function)
