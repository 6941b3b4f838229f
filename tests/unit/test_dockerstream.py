"""The exec stream read whole when the daemon's first frames arrive with its headers.

The bytes below are what dockerd 20.10 (the lab builder's) sent for `id -un; id -u` in one read;
an SSH-forwarded socket delivers them that way whenever the command answers quickly, and the
SDK's own reader then dropped the first frame (CI: `id` came back as two lines of three).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import docker

from workbench.remote.dockerstream import exec_output, frames

HEADERS = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\n"
    b"Ostype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\n"
)


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def daemon(path: Path, answer: bytes) -> threading.Thread:
    """A unix socket that answers one request with `answer` in a single write."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = int(
            next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        while len(body) < length:
            body += conn.recv(65536)
        conn.sendall(answer)
        conn.close()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_frames_that_came_with_the_headers_are_kept(tmp_path):
    path = tmp_path / "docker.sock"
    out = frame(1, b"opam\n") + frame(1, b"1000\n") + frame(2, b"warning\n") + frame(1, b"1000\n")
    served = daemon(path, HEADERS + out)
    api = docker.APIClient(base_url=f"unix://{path}", version="1.41")
    got = list(exec_output(api, "0123abcd"))
    served.join(5)
    assert b"".join(d for s, d in got if s == "stdout") == b"opam\n1000\n1000\n"
    assert b"".join(d for s, d in got if s == "stderr") == b"warning\n"


class Trickle:
    """A reader that hands out at most three bytes per read, as a slow socket would."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n and self.data:
            out += self.read1(n - len(out))
        return out

    def read1(self, n: int) -> bytes:
        part, self.data = self.data[: min(n, 3)], self.data[min(n, 3) :]
        return part


def test_a_frame_split_across_reads_is_whole_and_a_cut_one_ends_the_stream():
    data = frame(1, b"hello world\n") + frame(0, b"stdin echo") + frame(2, b"oops\n")
    got = list(frames(Trickle(data + frame(1, b"cut short")[:-4])))
    assert b"".join(d for s, d in got if s == "stdout") == b"hello world\ncut s"
    assert b"".join(d for s, d in got if s == "stderr") == b"oops\n"
    assert all(len(d) <= 3 for _, d in got)  # as it arrived, not held for the whole frame
