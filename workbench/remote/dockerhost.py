"""The Docker API of a profile host, over that host's existing SSH connection.

The remote daemon's unix socket is forwarded to a private local socket by asyncssh and the docker
SDK is pointed at the local end: one SSH stack, one authentication, one host-key check. The SDK
blocks, so every call runs in a thread; the forward is served by the event loop meanwhile.
Docker's exceptions are translated here and go no further.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import tarfile
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import docker
import docker.errors
import requests.exceptions

from workbench.errors import BuildError, ConnectError, RemoteTimeout
from workbench.remote.connection import HostConnection
from workbench.remote.dockerstream import exec_output

T = TypeVar("T")
REMOTE_SOCKET = "/var/run/docker.sock"
CONTROL_TIMEOUT = 120  # a single API call; streams (exec output, pulls) have none


@dataclass(frozen=True)
class DaemonInfo:
    version: str
    arch: str  # as uname -m says: x86_64, aarch64
    os: str


@dataclass(frozen=True)
class ImageInfo:
    id: str
    arch: str  # normalised like DaemonInfo.arch
    tags: tuple[str, ...]


def normalise_arch(name: str) -> str:
    return {"amd64": "x86_64", "arm64": "aarch64", "arm64v8": "aarch64"}.get(name, name)


class DockerHost:
    """`async with DockerHost(conn) as d:` -- the daemon on that host, or a clear error."""

    def __init__(self, conn: HostConnection, socket: str = REMOTE_SOCKET) -> None:
        self.conn = conn
        self.remote_socket = socket
        self._tmp: str | None = None
        self._listener: asyncssh.SSHListener | None = None
        self._client: docker.DockerClient | None = None
        self._stream: docker.APIClient | None = None

    @property
    def where(self) -> str:
        return f"docker on {self.conn.name} ({self.conn.host.address})"

    async def __aenter__(self) -> DockerHost:
        ssh = await self.conn.connection()
        self._tmp = tempfile.mkdtemp(prefix="workbench-docker-")
        local = str(Path(self._tmp) / "docker.sock")
        try:
            self._listener = await ssh.forward_local_path(local, self.remote_socket)
        except (OSError, asyncssh.Error) as exc:
            await self.close()
            raise ConnectError(
                f"cannot forward {self.remote_socket} from {self.conn.name}: {exc}",
                "sshd there must allow it (AllowStreamLocalForwarding yes, the default)",
                host=self.conn.name,
            ) from None
        url = f"unix://{local}"
        try:
            # version="auto" asks the daemon at once: in a thread, as the loop serves the forward.
            self._client = await self._call(
                "asking for the API version",
                docker.DockerClient,
                base_url=url,
                version="auto",
                timeout=CONTROL_TIMEOUT,
            )
        except BaseException:
            await self.close()
            raise
        version = self._client.api.api_version
        # No read timeout on the streaming client (build output can be quiet for minutes); the
        # SDK hands None to requests, which means exactly that, though its stubs say int.
        self._stream = docker.APIClient(
            base_url=url,
            version=version,
            timeout=None,  # type: ignore[arg-type]
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for client in (self._client, self._stream):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        self._client = self._stream = None
        if self._listener is not None:
            self._listener.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._listener.wait_closed(), 5)
            self._listener = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- the translation edge ------------------------------------------------------------------

    async def _call(
        self, what: str, fn: Callable[..., T], *args: Any, _missing_ok: bool = False, **kwargs: Any
    ) -> T:
        """Run one blocking SDK call in a thread; docker errors become WorkbenchErrors. With
        `_missing_ok` docker's NotFound reaches the caller, which says what is missing."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except docker.errors.NotFound:
            if _missing_ok:
                raise
            raise BuildError(
                f"{self.where}: {what}: the container or image is gone",
                "was it removed from the build host by hand (docker rm/rmi) meanwhile? retry",
                host=self.conn.name,
            ) from None
        except docker.errors.APIError as exc:
            raise BuildError(
                f"{self.where}: {what} failed: {exc.explanation or exc}",
                f"`docker` on {self.conn.name} should show the same; see its dockerd log",
                host=self.conn.name,
            ) from None
        except docker.errors.DockerException as exc:
            raise self._unreachable(what, exc) from None
        except requests.exceptions.ReadTimeout:
            raise RemoteTimeout(
                f"{self.where}: {what}: no answer within {CONTROL_TIMEOUT} s",
                "the daemon may be overloaded; retry",
                host=self.conn.name,
            ) from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise self._unreachable(what, exc) from None

    def _unreachable(self, what: str, exc: BaseException) -> ConnectError:
        return ConnectError(
            f"{self.where}: {what}: cannot talk to the daemon at {self.remote_socket}: {exc}",
            f"is dockerd running on {self.conn.name}, and may {self.conn.host.user} use its "
            "socket (root, or in group docker)?",
            host=self.conn.name,
        )

    @property
    def _sdk(self) -> docker.DockerClient:
        assert self._client is not None, "use DockerHost as an async context manager"
        return self._client

    # -- operations ------------------------------------------------------------------------------

    async def info(self) -> DaemonInfo:
        data = await self._call("reading `docker info`", self._sdk.info)
        return DaemonInfo(
            version=str(data.get("ServerVersion", "?")),
            arch=normalise_arch(str(data.get("Architecture", "?"))),
            os=str(data.get("OperatingSystem", "?")),
        )

    async def image(self, name: str) -> ImageInfo | None:
        try:
            image = await self._call(
                f"looking up image {name}", self._sdk.images.get, name, _missing_ok=True
            )
        except docker.errors.NotFound:
            return None
        return ImageInfo(
            id=image.id or "",
            arch=normalise_arch(str(image.attrs.get("Architecture", "?"))),
            tags=tuple(image.tags),
        )

    async def pull(self, name: str) -> AsyncIterator[str]:
        """Pull an image, yielding one line per layer state change (not every progress tick)."""
        repo, tag = _split_tag(name)
        last: dict[str, str] = {}
        try:
            async for item in self._iterate(
                f"pulling {name}",
                lambda: self._sdk.api.pull(repo, tag=tag, stream=True, decode=True),
                missing_ok=True,
            ):
                if "error" in item:
                    raise BuildError(f"{self.where}: pulling {name}: {item['error']}")
                status, layer = str(item.get("status", "")), str(item.get("id", ""))
                if last.get(layer) == status:
                    continue
                last[layer] = status
                yield f"{layer}: {status}" if layer else status
        except docker.errors.NotFound as exc:
            raise BuildError(f"{self.where}: pulling {name}: {exc.explanation or exc}") from None

    async def exec_lines(
        self, container: str, argv: list[str], *, user: str = "", workdir: str | None = None
    ) -> AsyncIterator[tuple[str, str]]:
        """Run argv in a running container; yield (stream, line) as they come; then the exit
        status as ("exit", "N")."""
        assert self._stream is not None
        created = await self._call(
            f"starting {argv[0]}",
            self._sdk.api.exec_create,
            container,
            argv,
            user=user,
            workdir=workdir,
        )
        exec_id = created["Id"]
        buffers = {"stdout": b"", "stderr": b""}
        stream = self._stream
        async for name, chunk in self._iterate(
            f"running {argv[0]}", lambda: exec_output(stream, exec_id)
        ):
            *lines, buffers[name] = (buffers[name] + chunk).split(b"\n")
            for line in lines:
                yield name, line.decode(errors="replace").rstrip("\r")
        for name, rest in buffers.items():
            if rest:
                yield name, rest.decode(errors="replace")
        inspected = await self._call("reading an exit status", self._sdk.api.exec_inspect, exec_id)
        code = inspected.get("ExitCode")
        yield "exit", str(255 if code is None else code)

    async def run_capture(
        self, container: str, argv: list[str], *, user: str = "", workdir: str | None = None
    ) -> tuple[int, str, str]:
        out: list[str] = []
        err: list[str] = []
        code = 255
        async for stream, line in self.exec_lines(container, argv, user=user, workdir=workdir):
            if stream == "exit":
                code = int(line)
            else:
                (out if stream == "stdout" else err).append(line)
        return code, "\n".join(out), "\n".join(err)

    async def create_container(
        self,
        image: str,
        *,
        entrypoint: list[str],
        command: list[str],
        volumes: dict[str, str],
        labels: dict[str, str],
    ) -> str:
        """Create (not start) the build container; its id. `volumes` maps a named volume to the
        path it is mounted on, read-write."""
        api = self._sdk.api
        binds: dict[str, Mapping[str, str]] = {
            name: {"bind": path, "mode": "rw"} for name, path in volumes.items()
        }
        created = await self._call(
            "creating the build container",
            api.create_container,
            image,
            entrypoint=entrypoint,
            command=command,
            host_config=api.create_host_config(binds=binds),
            labels=labels,
        )
        return str(created["Id"])

    async def start(self, container: str) -> None:
        await self._call("starting the build container", self._sdk.api.start, container)

    async def remove(self, container: str) -> None:
        """Remove a container, running or not; one that is gone already is removed."""
        with contextlib.suppress(docker.errors.NotFound):
            await self._call(
                "removing the build container",
                self._sdk.api.remove_container,
                container,
                force=True,
                _missing_ok=True,
            )

    async def put_archive(self, container: str, path: str, data: bytes) -> None:
        await self._call(f"uploading to {path}", self._sdk.api.put_archive, container, path, data)

    async def get_file(self, container: str, path: str) -> bytes:
        """One regular file out of a container (get_archive, then read the single member)."""

        def fetch() -> bytes:
            stream, _stat = self._sdk.api.get_archive(container, path)
            raw = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                member = next((m for m in tar.getmembers() if m.isfile()), None)
                if member is None:
                    raise BuildError(f"{self.where}: {path} in the build container is not a file")
                extracted = tar.extractfile(member)
                assert extracted is not None
                return extracted.read()

        try:
            return await self._call(f"fetching {path}", fetch, _missing_ok=True)
        except docker.errors.NotFound:
            raise BuildError(
                f"{self.where}: {path} is not in the build container",
                "the build said it succeeded but left no such file; see the build output",
                host=self.conn.name,
            ) from None

    async def _iterate(
        self, what: str, start: Callable[[], Any], *, missing_ok: bool = False
    ) -> AsyncIterator[Any]:
        """Drain a blocking SDK generator in a thread, handing items to the event loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=256)
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            asyncio.run_coroutine_threadsafe(queue.put((kind, value)), loop).result()

        def pump() -> None:
            try:
                for item in start():
                    if stop.is_set():
                        return
                    put("item", item)
                put("end", None)
            except BaseException as exc:  # handed to the loop, raised there
                if not stop.is_set():
                    put("error", exc)

        thread = threading.Thread(target=pump, name=f"docker: {what}", daemon=True)
        thread.start()
        try:
            while True:
                kind, value = await queue.get()
                if kind == "end":
                    return
                if kind == "error":
                    await self._call(what, _reraise, value, _missing_ok=missing_ok)
                yield value
        finally:
            stop.set()
            # Let a pump blocked on a full queue finish its put.
            while not queue.empty():
                queue.get_nowait()


def _reraise(exc: BaseException) -> None:
    raise exc


def _split_tag(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name, None
    head, _, tail = name.rpartition(":")
    if head and "/" not in tail:
        return head, tail
    return name, "latest"
