"""'did you mean' reads the commands from the parser, not from argparse's wording, which
changed in Python 3.12.7 (choices no longer quoted)."""

from __future__ import annotations

import pytest

from workbench.cli import build_parser


@pytest.mark.parametrize(
    "message",
    [
        "argument COMMAND: invalid choice: 'deplyo' (choose from 'profiles', 'deploy')",
        "argument COMMAND: invalid choice: deplyo (choose from profiles, deploy)",
    ],
)
def test_did_you_mean_with_either_wording(message, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().error(message)
    assert exited.value.code == 2
    assert "unknown command 'deplyo': did you mean 'deploy'?" in capsys.readouterr().err
