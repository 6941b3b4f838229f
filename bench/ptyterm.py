"""Run a program on a pseudo-terminal of a fixed size and watch what it paints: first paint
and key-to-screen latency as a user at a real terminal would see them."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time


class PtyApp:
    def __init__(
        self,
        argv: list[str],
        env: dict[str, str] | None = None,
        size=(120, 36),
        cwd: str | os.PathLike[str] | None = None,
    ):
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: becomes the program
            if cwd is not None:
                os.chdir(cwd)
            os.execvpe(argv[0], argv, {**os.environ, "TERM": "xterm-256color", **(env or {})})
        self.pid, self.fd = pid, fd
        cols, rows = size
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.tail = b""
        self.received = 0

    def read(self, timeout: float) -> bytes:
        """Whatever the program wrote within `timeout` (the pty must be drained, or the
        program blocks on its own output)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 1 << 20)
        except OSError:
            return b""
        self.received += len(data)
        self.tail = (self.tail + data)[-65536:]
        return data

    def wait_for(self, needle: bytes, timeout: float = 30.0) -> float:
        """Seconds until `needle` appears in new output (it may span two reads)."""
        start = time.perf_counter()
        window = b""
        while time.perf_counter() - start < timeout:
            window = (window + self.read(0.05))[-4096:]
            if needle in window:
                return time.perf_counter() - start
        raise TimeoutError(f"{needle!r} did not appear in {timeout} s")

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.read(0.05)

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def close(self, quit_keys: bytes = b"q", timeout: float = 10.0) -> int:
        self.send(quit_keys)
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            self.read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        return -9
