"""What the TUI asks of the engine: profiles, and one event stream per action.

`EngineBackend` is the real one (SSH pools, builds, deploys). Tests and benchmarks hand the app
another `Backend` that replays recorded streams: the screens cannot tell the difference, which
is the point. No textual here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from workbench.events import Event

if TYPE_CHECKING:
    from workbench.engine.release import Job
    from workbench.profiles.loader import LoadedProfile
    from workbench.remote.connection import Pool

    HostStream = Callable[[Pool, LoadedProfile, str], AsyncIterator[Event]]


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    targets: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    builder: str | None = None
    description: str = ""
    unikernel: str = ""
    error: str | None = None  # the profile does not load: why


class Backend(Protocol):
    def profiles(self) -> list[ProfileEntry]: ...
    def status(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def deploy(self, profile: str, hosts: list[str], *, restart: bool) -> AsyncIterator[Event]: ...
    def logs(self, profile: str, hosts: list[str], *, lines: int) -> AsyncIterator[Event]: ...
    def tail(self, profile: str, host: str, *, lines: int) -> AsyncIterator[Event]: ...
    def check(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def plan(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def rollback(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def restart(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def stop(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def start(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def remove(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def metrics(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]: ...
    def changed(self) -> bool: ...
    async def reload(self) -> None: ...
    async def close(self) -> None: ...


# The dashboard's metrics sampling: as `workbench metrics`' default.
METRICS_SECONDS = 5.0


class EngineBackend:
    """The engine over SSH: one connection pool per profile, opened on first use."""

    def __init__(self, names: list[str] | None = None, *, accept_new_host_key: bool = False):
        self.accept_new_host_key = accept_new_host_key
        self.names = names
        self._loaded: dict[str, LoadedProfile] = {}
        self._entries: list[ProfileEntry] = []
        self._pools: dict[str, Pool] = {}
        self._retired: list[Pool] = []  # pools of profiles changed on disk, closed at the end
        self._seen: tuple[tuple[str, int, int], ...] = ()
        self._load()

    def _paths(self) -> list[Path]:
        from workbench import profiles

        return [profiles.find(n) for n in self.names] if self.names else profiles.discover()

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        """The profile files as they are on disk: which, when written, how big (a profile named
        on the command line that is gone: a signature of its own, so it reloads once)."""
        from workbench.errors import WorkbenchError

        try:
            paths = self._paths()
        except WorkbenchError as exc:
            return ((f"missing: {exc.message}", 0, 0),)
        out = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _load(self) -> None:
        from workbench import profiles
        from workbench.errors import ProfileError

        self._seen = self._signature()
        self._loaded, self._entries = {}, []
        for path in self._paths():
            try:
                loaded = profiles.load_file(path)
            except ProfileError as exc:
                self._entries.append(
                    ProfileEntry(
                        path.stem, error=f"{len(exc.problems)} problem(s): {exc.problems[0]}"
                    )
                )
                continue
            for view in loaded.views():  # a row per unikernel of a profile with several
                p = view.profile
                self._loaded[view.label] = view
                self._entries.append(
                    ProfileEntry(
                        view.label,
                        list(p.targets),
                        {t: p.hosts[t].address for t in p.targets},
                        p.build_host if p.unikernel.source else None,
                        p.description,
                        p.unikernel.name,
                    )
                )

    def changed(self) -> bool:
        """Whether a profile file was added, removed or written since the last load."""
        return self._signature() != self._seen

    async def reload(self) -> None:
        """Read the profile files again (a fixed one loads, a broken one says why). A profile
        whose hosts changed gets a new connection pool on its next use; the old one is kept
        open until the app closes, as a deploy or a follow under way may still be using it."""
        from workbench.errors import WorkbenchError

        before = {lp.name: lp.profile.hosts for lp in self._loaded.values()}
        try:
            self._load()
        except WorkbenchError as exc:  # a profile named with --profile was deleted
            self._entries = [ProfileEntry(", ".join(self.names or []), error=exc.message)]
            self._loaded = {}
        now = {lp.name: lp.profile.hosts for lp in self._loaded.values()}
        for name in list(self._pools):
            if name not in now or before.get(name) != now[name]:
                self._retired.append(self._pools.pop(name))

    def profiles(self) -> list[ProfileEntry]:
        return list(self._entries)

    def _get(self, name: str) -> tuple[LoadedProfile, Pool]:
        from workbench.remote.connection import Pool

        loaded = self._loaded[name]
        pool = self._pools.get(loaded.name)  # one per profile: its unikernels share the hosts
        if pool is None:
            pool = Pool(loaded.profile.hosts, accept_new_host_key=self.accept_new_host_key)
            self._pools[loaded.name] = pool
        return loaded, pool

    def _each(self, name: str, hosts: list[str], fn: HostStream) -> AsyncIterator[Event]:
        loaded, pool = self._get(name)
        return _per_host(pool, loaded, hosts, fn)

    def status(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import status

        return self._each(profile, hosts, status.status)

    def deploy(
        self, profile: str, hosts: list[str], *, restart: bool = False
    ) -> AsyncIterator[Event]:
        from workbench.engine.deploy import DeployOptions
        from workbench.engine.pipeline import deploy_all

        loaded, pool = self._get(profile)
        return deploy_all([self._job(loaded)], pool, hosts, DeployOptions(restart=restart))

    @staticmethod
    def _job(loaded: LoadedProfile) -> Job:
        from workbench.engine.release import job

        return job(loaded)

    def logs(self, profile: str, hosts: list[str], *, lines: int = 200) -> AsyncIterator[Event]:
        """The logs screen's follow, on a loop and connections of its own (app/offloop.py): a
        journal flood then cannot hold up the TUI's loop."""
        from workbench.app import offloop
        from workbench.remote.connection import Pool

        loaded = self._loaded[profile]
        accept = self.accept_new_host_key

        async def follow() -> AsyncIterator[Event]:  # runs on the stream's own loop
            pool = Pool(loaded.profile.hosts, accept_new_host_key=accept)
            try:
                # A follow never ends: every host at once.
                async for event in _per_host(pool, loaded, hosts, _follow(lines), len(hosts)):
                    yield event
            finally:
                await pool.close()

        return offloop.stream(follow, name=f"workbench-logs-{loaded.profile.unikernel.name}")

    def tail(self, profile: str, host: str, *, lines: int = 50) -> AsyncIterator[Event]:
        """The dashboard's live tail of one unikernel, on the shared connections: it changes
        with the selected row, and a connection per change would be a handshake each time."""
        return self._each(profile, [host], _follow(lines))

    def check(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import check

        loaded, _ = self._get(profile)
        builder = loaded.profile.build.host
        if builder and builder not in loaded.profile.targets:
            hosts = [*hosts, builder]  # as `workbench check` does

        def one(pool: Pool, lp: LoadedProfile, host: str) -> AsyncIterator[Event]:
            if host not in lp.profile.targets:
                return check.check_builder(pool, lp, host)
            return check.check_target(pool, lp, host, None)

        return self._each(profile, hosts, one)

    def plan(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine.pipeline import plan_all

        loaded, pool = self._get(profile)
        return plan_all([self._job(loaded)], pool, hosts)

    def rollback(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import rollback

        return self._each(profile, hosts, rollback.rollback)

    def restart(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import restart

        return self._each(profile, hosts, restart.restart)

    def stop(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import lifecycle

        return self._each(profile, hosts, lifecycle.stop)

    def start(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        from workbench.engine import lifecycle

        return self._each(profile, hosts, lifecycle.start)

    def remove(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        """Releases are kept: a purge is for the command line, where it is typed out."""
        from workbench.engine import remove

        return self._each(profile, hosts, remove.remove)

    def metrics(self, profile: str, hosts: list[str]) -> AsyncIterator[Event]:
        """Samples of the hosts, forever: every workbench unikernel on them, each event under
        its own unikernel's name (not tagged with this profile's)."""
        from workbench.engine import metrics
        from workbench.engine.runner import run_hosts

        _loaded, pool = self._get(profile)
        # Every host at once: each stream runs forever, so a limit would starve the rest.
        return run_hosts(
            hosts,
            lambda h: metrics.sample(pool, h, interval=METRICS_SECONDS),
            parallel=max(1, len(hosts)),
        )

    async def close(self) -> None:
        for pool in [*self._pools.values(), *self._retired]:
            await pool.close()
        self._pools.clear()
        self._retired.clear()


def _per_host(
    pool: Pool, loaded: LoadedProfile, hosts: list[str], fn: HostStream, parallel: int = 8
) -> AsyncIterator[Event]:
    """`fn` on every host, its events tagged with the profile's unikernel."""
    from workbench.engine.runner import run_hosts, tagged

    uk = loaded.profile.unikernel.name
    return run_hosts(hosts, lambda h: tagged(fn(pool, loaded, h), uk), parallel=parallel)


def _follow(lines: int) -> HostStream:
    """A host's journal followed from its last `lines` (the logs screen's and the tail's)."""
    from workbench.engine import logs

    return lambda pool, loaded, host: logs.follow(pool, loaded, host, lines=lines, follow=True)
