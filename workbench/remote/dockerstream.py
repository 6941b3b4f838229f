"""An exec's output read whole from the Docker API's hijacked connection.

The daemon answers `POST /exec/ID/start` with `101 UPGRADED` and then raw frames (an 8-byte
header: stream, 3 bytes of padding, big-endian length; then the data). The SDK reads those frames
from the raw socket under the HTTP response, but http.client parsed the headers through a buffered
reader that may already hold the first frames: whatever arrived in the same read as the headers is
lost (docker/docker-py#425, #3332). Over an SSH-forwarded socket that happens whenever a command
answers quickly: `id -un; id -u; id -g` came back as two lines of three. So the frames are read here
from that same buffered reader, buffered bytes first.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import docker

HEADER = struct.Struct(">BxxxL")
STREAMS = {1: "stdout", 2: "stderr", 3: "stderr"}  # 3: the daemon's own error ("systemerr")
CHUNK = 65536


def frames(reader: Any) -> Iterator[tuple[str, bytes]]:
    """(stream name, data) from a reader of multiplexed frames, as each part arrives."""
    while True:
        header = reader.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        number, length = HEADER.unpack(header)
        name = STREAMS.get(number)
        while length > 0:
            # read1: what is buffered or one read of the socket, so a slow command's output
            # comes as it is printed rather than when a whole frame has arrived.
            data = reader.read1(min(length, CHUNK))
            if not data:
                return
            length -= len(data)
            if name is not None:
                yield name, data


def exec_output(api: docker.APIClient, exec_id: str) -> Iterator[tuple[str, bytes]]:
    """Start a created exec and yield its output; the connection is closed at the end."""
    raw: Any = api.exec_start(exec_id, socket=True)
    # The SDK hands back the socket under the response and keeps the response on it; the
    # response's buffered reader is the one the headers were read through.
    response = raw._response
    try:
        yield from frames(response.raw._fp.fp)
    finally:
        response.close()
