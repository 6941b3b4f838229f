"""Command-line usage help beyond argparse's: a typo'd command gets "did you mean", and a
command run without --profile takes $WORKBENCH_PROFILE or the only profile there is, else
says which profiles exist."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from typing import NoReturn

from workbench.errors import ConfigError

PROFILE_ENV = "WORKBENCH_PROFILE"
# "invalid choice: 'deplyo' (choose from ...)"; Python 3.12.7+ drops the quotes.
_CHOICE = re.compile(r"invalid choice: '?([^'\s]*)'?")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        match = _CHOICE.search(message)
        commands = [
            name
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for name in action.choices
        ]
        if match and commands:
            typed = match.group(1)
            close = difflib.get_close_matches(typed, commands, n=1, cutoff=0.6)
            if close:
                self.print_usage(sys.stderr)
                said = f"unknown command '{typed}': did you mean '{close[0]}'?"
                self.exit(2, f"{self.prog}: {said}\n")
        super().error(message)


def default_profile() -> str:
    """$WORKBENCH_PROFILE, or the sole profile found; else a ConfigError naming them all."""
    from workbench import profiles
    from workbench.profiles.loader import search_dirs

    if os.environ.get(PROFILE_ENV):
        return os.environ[PROFILE_ENV]
    names = [p.stem for p in profiles.discover()]
    if len(names) == 1:
        return names[0]
    dirs = " or ".join(str(d) for d in search_dirs())
    if not names:
        raise ConfigError(
            f"no --profile given and no profiles found (looked in {dirs})",
            "write one (the README's Profiles section has an example) or pass --profile PATH",
        )
    raise ConfigError(
        f"no --profile given and {len(names)} profiles to choose from: {', '.join(names)}",
        f"pass --profile NAME, or set {PROFILE_ENV}=NAME for this shell",
    )
