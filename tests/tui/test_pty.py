"""The real TUI on a real pseudo-terminal, fed a profile and a host that say hostile things:
the bytes that reach the terminal carry none of their escape sequences, and their markup is
shown as text, not run."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

from bench.ptyterm import PtyApp

ROOT = Path(__file__).resolve().parents[2]
TITLE = b"\x1b]0;PWNED\x07"  # would retitle the user's terminal

PROFILE = r"""description: "evil \e]0;PWNED\a\e[31m red [@click=app.quit]click me[/] [/etc/x]"
hosts:
  box:
    address: 127.0.0.1
    port: {port}
    connect_timeout: 5
targets: [box]
unikernel:
  name: evil
  artifact: evil.hvt
"""


def hostile_ssh_server() -> tuple[socket.socket, int]:
    """A 'host' that answers every connection with markup and escapes before any key exchange
    (what an untrusted host can say in its banner lines), then hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"[/] [@click=app.quit]x[/] \x1b]0;PWNED\x07\r\nSSH-1.0-evil\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_hostile_profile_and_host_text_never_reach_the_terminal(tmp_path):
    server, port = hostile_ssh_server()
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "evil.yaml").write_text(PROFILE.format(port=port))
    app = PtyApp(
        [sys.executable, "-m", "workbench", "ui"],
        env={"PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        size=(160, 45),
        cwd=tmp_path,
    )
    try:
        app.wait_for(b"click me", timeout=30)  # the description, shown
        app.drain(4)  # the status refresh fails against the hostile host and is shown
        screen = app.tail
    finally:
        code = app.close()
        server.close()
    assert TITLE not in screen and b"PWNED" not in screen
    assert b"\x1b[31m red" not in screen
    assert b"@click=app.quit" in screen  # shown as text
    assert code == 0, "the app quit on q, not through the injected action or a crash"


QUIET = """description: a host that is not there
hosts:
  box:
    address: 127.0.0.1
    port: {port}
    connect_timeout: 2
targets: [box]
unikernel:
  name: quiet
  artifact: quiet.hvt
"""


def test_help_and_quit_are_on_screen_at_80x24(tmp_path):
    """The real terminal at a Pi console's size: the footer keeps `? Help` and `q Quit` (a
    screen's less common keys go first), and q quits."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: the status refresh fails, the screen stays
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "quiet.yaml").write_text(QUIET.format(port=port))
    app = PtyApp(
        [sys.executable, "-m", "workbench", "ui"],
        env={"PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "COLUMNS": "80", "LINES": "24"},
        size=(80, 24),
        cwd=tmp_path,
    )
    try:
        app.wait_for(b"a host that is not there", timeout=30)
        app.drain(2)
        screen = app.tail
    finally:
        code = app.close()
    assert b"Help" in screen and b"Quit" in screen
    assert code == 0
