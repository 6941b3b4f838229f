"""Deploy one host: preflight, upload, network, unit, switch, restart, boot, health, rollback.

Every step compares what the host has with what the profile wants and acts only on a
difference, so a second deploy with nothing changed writes nothing and restarts nothing. The
switch of `current` and the restart that follows run shielded from cancellation: Ctrl-C leaves
the host on the old release or fully on the new one, never between.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from workbench import render
from workbench.aio import shielded
from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import TenderVersion, check_compatible, parse_tender_version
from workbench.engine import bootwatch, health, preflight
from workbench.engine.release import TenderSource, release_id
from workbench.errors import (
    ArtifactError,
    ConnectError,
    HealthError,
    RemoteCommandError,
    RemoteTimeout,
    WorkbenchError,
)
from workbench.events import (
    Event,
    Fact,
    HostDone,
    RolledBack,
    StepFailed,
    StepFinished,
    StepStarted,
    UploadProgress,
)
from workbench.profiles.loader import LoadedProfile
from workbench.profiles.models import Profile
from workbench.remote import facts as factsmod
from workbench.remote import files, journal
from workbench.remote.connection import HostConnection, Pool
from workbench.remote.lock import RemoteLock

T = TypeVar("T")


@dataclass(frozen=True)
class DeployOptions:
    restart: bool = False
    rollback: bool = True
    build: dict[str, object] | None = None  # metadata of the build that made the artifact


@dataclass
class HostPlan:
    """What deploy learnt and decided on one host, for the summary."""

    release: str = ""
    previous: str | None = None
    changed: list[str] = field(default_factory=list)


class HostDeploy:
    def __init__(
        self,
        loaded: LoadedProfile,
        host: str,
        pool: Pool,
        artifact: ArtifactInfo,
        tender: TenderSource | None,
        options: DeployOptions,
    ) -> None:
        self.loaded = loaded
        self.profile = loaded.profile
        self.host = host
        self.pool = pool
        self.artifact = artifact
        self.tender = tender
        self.options = options
        self.plan = HostPlan()
        self.step = "connect"

    # -- helpers -----------------------------------------------------------------------------

    def _start(self, step: str, detail: str = "") -> StepStarted:
        self.step = step
        self._t = time.monotonic()
        return StepStarted(host=self.host, step=step, detail=detail)

    def _done(self, changed: bool, detail: str) -> StepFinished:
        if changed:
            self.plan.changed.append(self.step)
        return StepFinished(
            host=self.host,
            step=self.step,
            changed=changed,
            detail=detail,
            seconds=round(time.monotonic() - self._t, 3),
        )

    def _failed(self, exc: WorkbenchError) -> StepFailed:
        return StepFailed(
            host=self.host,
            step=self.step,
            message=exc.message,
            hint=exc.hint,
            kind=exc.kind,
            exit_code=exc.exit_code,
            seconds=round(time.monotonic() - getattr(self, "_t", time.monotonic()), 3),
        )

    @property
    def rel(self) -> str:
        return self.profile.release_dir

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> AsyncIterator[Event]:
        conn = self.pool.get(self.host)
        self.lock: RemoteLock | None = None
        try:
            yield self._start("connect")
            await conn.connection()
            h = conn.host
            yield self._done(False, f"{h.user}@{h.address}" + (" (sudo)" if h.use_sudo else ""))

            yield self._start("lock")
            self.lock = await RemoteLock.acquire(conn, self.profile.unikernel.name)
            yield self._done(False, self.lock.path)

            async for event in self._deploy(conn):
                yield event
        except WorkbenchError as exc:
            if not exc.host:
                exc.host = self.host
            yield self._failed(exc)
            yield HostDone(
                host=self.host,
                step="done",
                ok=False,
                changed=bool(self.plan.changed),
                release=self.plan.release or None,
                summary=exc.message,
                exit_code=exc.exit_code,
            )
        finally:
            if self.lock is not None:
                await self.lock.release()

    async def _deploy(self, conn: HostConnection) -> AsyncIterator[Event]:
        p = self.profile
        managed = [render.render_unit(p, self.artifact, profile_label=self.loaded.name).path]
        backend_files = {b: render.render_network(p, b, self.loaded.name) for b in render.BACKENDS}
        for rendered in backend_files.values():
            managed += [f.path for f in rendered]

        yield self._start("facts")
        out = await conn.run(
            factsmod.facts_argv(self.rel, p.unit_name, p.service.user, p.tender_name, managed),
            what="reading host facts",
            timeout=60,
        )
        facts = factsmod.parse_facts(out.stdout)
        self.plan.previous = facts.current_release
        yield self._done(
            False,
            f"{facts.arch}, systemd {facts.systemd}, current release "
            f"{facts.current_release or 'none'}",
        )

        yield self._start("preflight")
        extra = self.artifact.size + (self.tender.size if self.tender else 4 << 20)
        for check in preflight.checks(p, facts, self.artifact, extra):
            yield Fact(
                host=self.host,
                step="preflight",
                name=check.name,
                value=check.value,
                ok=check.ok,
                hint=check.hint,
            )
            if check.ok is False:
                error_cls = ArtifactError if check.name == "arch" else RemoteCommandError
                raise error_cls(
                    f"preflight: {check.name}: {check.value}", check.hint, host=self.host
                )
        if self.tender is not None and self.tender.machine != facts.arch:
            raise ArtifactError(
                f"the tender {self.tender.path} is an {self.tender.machine} program but the host "
                f"is {facts.arch}",
                "pass the tender built for the host (from the same build)",
            )
        backend = preflight.backend_for(p, facts)
        yield self._done(False, f"ok, network backend {backend}")

        # -- release: artifact + tender, verified, under releases/<id> ------------------------
        yield self._start("upload")
        tender_sha, tender_remote = await self._tender_source(conn, facts)
        rid = release_id(self.artifact.sha256, tender_sha)
        self.plan.release = rid
        final = f"{self.rel}/releases/{rid}"
        kernel = render.kernel_name(p)
        items = [
            files.UploadFile(
                Path(self.artifact.path), kernel, self.artifact.sha256, self.artifact.size, "0644"
            )
        ]
        tender_item = None
        if self.tender is not None:
            tender_item = files.UploadFile(
                self.tender.path, p.tender_name, self.tender.sha256, self.tender.size, "0755"
            )
        await files.clean_stale_uploads(conn, self.rel)
        check_items = [
            *items,
            tender_item or files.UploadFile(Path("-"), p.tender_name, tender_sha, 0, "0755"),
        ]
        if rid in facts.releases and await files.verify(conn, final, check_items):
            yield self._done(False, f"release {rid} already on the host (hashes verified)")
        else:
            progress: list[UploadProgress] = []

            def on_progress(done: int, total: int) -> None:
                progress.append(
                    UploadProgress(host=self.host, step="upload", done=done, total=total)
                )

            meta = json.dumps(self._metadata(rid, tender_sha), sort_keys=True)
            await files.upload_release(
                conn,
                final,
                [*items, *([tender_item] if tender_item else [])],
                meta,
                on_progress,
                remote_copies=[(tender_remote, p.tender_name, tender_sha, "0755")]
                if tender_remote
                else [],
            )
            if progress:
                yield progress[-1]
            size = sum(i.size for i in items) + (tender_item.size if tender_item else 0)
            yield self._done(
                True, f"release {rid}: {kernel} + {p.tender_name} ({size / 1024:.0f} KiB) verified"
            )

        yield self._start("tender")
        version = await self._tender_version(conn, f"{final}/{p.tender_name}")
        yield self._done(False, f"{version.name} {version.text}, ABI {version.abi}")

        # -- host configuration: user, network, unit ------------------------------------------
        yield self._start("user")
        if facts.user_groups is None:
            await self._create_user(conn)
            yield self._done(
                True, f"created system user {p.service.user} in group {p.service.group}"
            )
        else:
            yield self._done(False, f"{p.service.user} exists")

        yield self._start("network")
        assert backend is not None
        if p.network.mode == "bridge-uplink":
            network_changed = await self._bridge_uplink(
                conn, facts, backend_files[backend], backend
            )
        else:
            network_changed = await self._network(conn, facts, backend_files[backend], backend)
        yield self._done(
            network_changed, f"{backend}: " + ("applied" if network_changed else "unchanged")
        )

        yield self._start("unit")
        unit = render.render_unit(p, self.artifact, version, profile_label=self.loaded.name)
        unit_changed = _sha(unit.content) != facts.files.get(unit.path)
        if unit_changed:
            await files.write_text(conn, unit.path, unit.content)
            await conn.run(["systemctl", "daemon-reload"], what="systemctl daemon-reload")
        if facts.unit_enabled != "enabled":
            await conn.run(["systemctl", "enable", p.unit_name], what="enabling the unit")
            unit_changed = True
        yield self._done(
            unit_changed, f"{unit.path}" + (" (daemon-reload)" if unit_changed else " unchanged")
        )

        # -- switch and restart, shielded ------------------------------------------------------
        switch = facts.current_release != rid
        restart = (
            switch
            or unit_changed
            or network_changed
            or self.options.restart
            or facts.unit_active != "active"
        )
        yield self._start("switch")
        cursor: str | None = None
        started: int | None = None
        if switch or restart:
            cursor, started = await shielded(
                self._switch_and_restart(conn, rid, facts.current_release, switch, restart)
            )
        if switch:
            yield self._done(True, f"current -> {rid} (was {facts.current_release or 'none'})")
        else:
            yield self._done(False, f"current is {rid}")
        self.step = "restart"
        yield StepFinished(
            host=self.host,
            step="restart",
            changed=restart,
            detail=f"restarted {p.unit_name}" if restart else "not restarted: nothing changed",
        )
        if restart:
            self.plan.changed.append("restart")

        # -- boot and health -------------------------------------------------------------------
        outcome = bootwatch.Outcome()
        self._start("health")
        if restart:
            async for event in bootwatch.watch(conn, p, p.unit_name, cursor, outcome, started):
                yield event
        else:
            async for event in self._check_running(conn, outcome):
                yield event
        if outcome.ok:
            note = ""
            if restart:
                # The release is switched and healthy: the deploy has succeeded. Its boot
                # timings are a nicety that a full disk must not turn into a failure.
                try:
                    await self._record_boot(conn, rid, outcome)
                except WorkbenchError as exc:
                    note = f" (boot timings not recorded: {exc.message})"
                await self._prune(conn, rid, facts.current_release)
            changed = bool(self.plan.changed)
            yield HostDone(
                host=self.host,
                step="done",
                ok=True,
                changed=changed,
                release=rid,
                summary=(
                    f"deployed {rid}{note}"
                    if changed
                    else f"{rid} already deployed; nothing to do{note}"
                ),
            )
            return

        # -- failure: roll back to the release that ran before --------------------------------
        previous = facts.current_release
        if restart and self.options.rollback and previous and previous != rid:
            self._start("rollback")
            rb_cursor, rb_started = await shielded(
                self._switch_and_restart(conn, previous, rid, True, True)
            )
            rb = bootwatch.Outcome()
            async for event in bootwatch.watch(
                conn, p, p.unit_name, rb_cursor, rb, rb_started, step="rollback"
            ):
                yield event
            yield RolledBack(
                host=self.host,
                step="rollback",
                from_release=rid,
                to_release=previous,
                reason=outcome.reason,
            )
            state = "healthy again" if rb.ok else f"ALSO unhealthy: {rb.reason}"
            raise HealthError(
                f"{rid} failed: {outcome.reason}; rolled back to {previous} ({state})",
                outcome.hint,
            )
        verdict = "did not start" if outcome.before_start else "is not healthy"
        raise HealthError(
            f"{rid} {verdict}: {outcome.reason}",
            outcome.hint or f"journalctl -u {p.unit_name} on the host",
        )

    # -- steps -------------------------------------------------------------------------------

    async def _tender_source(
        self, conn: HostConnection, facts: factsmod.HostFacts
    ) -> tuple[str, str | None]:
        return await tender_sha(conn, self.tender, facts.installed_tender, self.profile.tender_name)

    async def _tender_version(self, conn: HostConnection, path: str) -> TenderVersion:
        result = await conn.run(
            [path, "--version"], check=False, sudo=False, what=f"{path} --version"
        )
        version = parse_tender_version(result.stderr + result.stdout)
        check_compatible(version, self.artifact)
        return version

    def _metadata(self, rid: str, tender_sha: str) -> dict[str, object]:
        a = self.artifact
        return {
            "id": rid,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "profile": self.loaded.name,
            "artifact": {
                "name": Path(a.path).name,
                "sha256": a.sha256,
                "size": a.size,
                "machine": a.machine,
                "abi": a.query_abi(),
                "devices": a.query_manifest()["devices"],
            },
            "tender": {"sha256": tender_sha},
            **({"build": self.options.build} if self.options.build else {}),
        }

    async def _create_user(self, conn: HostConnection) -> None:
        s = self.profile.service
        await conn.run(
            [
                "sh",
                "-c",
                'getent group "$1" >/dev/null || groupadd --system "$1"',
                "workbench-group",
                s.group,
            ],
            what=f"creating group {s.group}",
        )
        await conn.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--gid",
                s.group,
                "--groups",
                "kvm",
                s.user,
            ],
            what=f"creating user {s.user}",
        )

    async def _network(
        self,
        conn: HostConnection,
        facts: factsmod.HostFacts,
        wanted: list[render.RenderedFile],
        backend: str,
    ) -> bool:
        changed = [f for f in wanted if _sha(f.content) != facts.files.get(f.path)]
        taps = list(self.profile.unikernel.networks.values())
        links = await conn.run(["ip", "-br", "link", "show"], sudo=False, what="ip link")
        up = parse_link_flags(links.stdout)
        missing = [t for t in taps if not up.get(t)]
        if not changed and not missing:
            return False
        if facts.unit_active == "active":
            # New network config takes effect on fresh taps; the unit is restarted anyway.
            await conn.run(
                ["systemctl", "stop", self.profile.unit_name],
                timeout=30,
                what="stopping the unit to change its network",
            )
        if backend == "ifupdown":
            interfaces = (
                [*taps]
                if self.profile.network.mode == "tap-only"
                else [*taps, self.profile.network.bridge]
            )
            for f in changed:
                if facts.files.get(f.path):  # bring the old definition down before replacing it
                    await conn.run(
                        ["ifdown", "--force", *reversed(interfaces)],
                        check=False,
                        timeout=60,
                        what="ifdown",
                    )
                    break
            for f in changed:
                await files.write_text(conn, f.path, f.content)
            for iface in interfaces:
                await conn.run(
                    ["ifdown", "--force", iface], check=False, timeout=30, what=f"ifdown {iface}"
                )
            await conn.run(["ifup", *interfaces], timeout=120, what="ifup")
        else:
            for f in changed:
                await files.write_text(conn, f.path, f.content)
            for tap in taps:  # a changed .netdev only applies to a newly created link
                if tap in up and any(f.path.endswith(".netdev") for f in changed):
                    await conn.run(["ip", "link", "del", tap], check=False, what=f"remove {tap}")
            if facts.networkd != "active":
                await conn.run(
                    ["systemctl", "enable", "--now", "systemd-networkd"],
                    timeout=60,
                    what="starting systemd-networkd",
                )
            await conn.run(["networkctl", "reload"], timeout=60, what="networkctl reload")
            if not await self._taps_up(conn, taps, within=5):
                # systemd-networkd 252 can leave a tap it re-created on reload in
                # "configuring", down, for good. Do what the .network says by hand (enslave,
                # bring up), then let networkd take the link over again.
                bridge = (
                    None if self.profile.network.mode == "tap-only" else self.profile.network.bridge
                )
                for tap in taps:
                    if bridge:
                        await conn.run(
                            ["ip", "link", "set", "dev", tap, "master", bridge],
                            check=False,
                            what=f"enslaving {tap}",
                        )
                    await conn.run(["ip", "link", "set", "dev", tap, "up"], what=f"{tap} up")
                    await conn.run(
                        ["networkctl", "reconfigure", tap],
                        check=False,
                        what=f"networkctl reconfigure {tap}",
                    )
        await self._wait_taps(conn, taps)
        return True

    async def _bridge_uplink(
        self,
        conn: HostConnection,
        facts: factsmod.HostFacts,
        wanted: list[render.RenderedFile],
        backend: str,
    ) -> bool:
        """bridge-uplink: apply behind a dead man's switch (engine/netrevert)."""
        from workbench.engine import netrevert

        net = self.profile.network
        assert net.uplink is not None
        changed = [f for f in wanted if _sha(f.content) != facts.files.get(f.path)]
        taps = list(self.profile.unikernel.networks.values())
        links = await conn.run(["ip", "-br", "link", "show"], sudo=False, what="ip link")
        flags = parse_link_flags(links.stdout)
        if not changed and all(flags.get(t) for t in taps):
            return False
        if net.uplink not in flags:
            raise RemoteCommandError(
                f"network.uplink '{net.uplink}' does not exist on the host",
                f"interfaces there: {', '.join(sorted(flags))}",
            )
        token = secrets.token_hex(4)
        backup = f"{self.rel}/.net-backup-{token}"
        unit = netrevert.timer_unit(self.profile.unikernel.name)
        paths = [f.path for f in wanted]
        script = netrevert.revert_script(
            backup, paths, backend, net.uplink, net.bridge, net.bridge in flags
        )
        started = time.monotonic()
        await netrevert.arm(conn, backup, paths, script, unit, net.confirm_timeout)
        if facts.unit_active == "active":
            await conn.run(
                ["systemctl", "stop", self.profile.unit_name],
                timeout=30,
                what="stopping the unit to change its network",
            )
        for f in changed:
            await files.write_text(conn, f.path, f.content)
        # From here the connection may drop; the host reverts by itself unless we confirm.
        # (ConnectError, RemoteTimeout) are expected when the change takes the uplink away;
        # the confirmation below decides.
        with contextlib.suppress(ConnectError, RemoteTimeout):
            if backend == "ifupdown":
                await conn.run(["ifdown", "--force", net.uplink], check=False, timeout=30)
                await conn.run(["ifup", *taps, net.bridge], timeout=60, what="ifup")
            else:
                if facts.networkd != "active":
                    await conn.run(
                        ["systemctl", "enable", "--now", "systemd-networkd"],
                        timeout=60,
                        what="starting systemd-networkd",
                    )
                await conn.run(["networkctl", "reload"], timeout=30, what="networkctl reload")
                await conn.run(
                    ["networkctl", "reconfigure", net.uplink],
                    timeout=30,
                    what=f"networkctl reconfigure {net.uplink}",
                )
        deadline = started + net.confirm_timeout - 3
        if not await netrevert.confirm(conn, unit, deadline):
            reverted = await netrevert.await_revert(
                conn, backup, started + net.confirm_timeout - time.monotonic()
            )
            state = (
                "the host reverted it and is reachable again"
                if reverted
                else "the host did not answer afterwards either: check its console"
            )
            raise RemoteCommandError(
                f"the bridge-uplink change cut the connection to {conn.host.address} (no SSH "
                f"within {net.confirm_timeout} s); {state}",
                "check network.uplink, network.address and network.gateway (dhcp needs a "
                "DHCP server on the uplink's LAN); the host's own uplink config is unchanged",
            )
        await conn.run(["rm", "-rf", backup], check=False, what="removing the network backup")
        # The old connection was dropped on purpose: take the deploy lock again on the new one.
        if self.lock is not None:
            await self.lock.release()
        self.lock = await RemoteLock.acquire(conn, self.profile.unikernel.name)
        if not await self._taps_up(conn, taps, within=5):
            for tap in taps:
                await conn.run(
                    ["ip", "link", "set", "dev", tap, "master", net.bridge],
                    check=False,
                    what=f"enslaving {tap}",
                )
                await conn.run(["ip", "link", "set", "dev", tap, "up"], what=f"{tap} up")
        await self._wait_taps(conn, taps)
        return True

    async def _taps_up(self, conn: HostConnection, taps: list[str], within: float) -> bool:
        deadline = time.monotonic() + within
        while True:
            out = await conn.run(["ip", "-br", "link", "show"], sudo=False, what="ip link")
            flags = parse_link_flags(out.stdout)
            if all(flags.get(t) for t in taps):
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.3)

    async def _wait_taps(self, conn: HostConnection, taps: list[str]) -> None:
        deadline = time.monotonic() + 30
        while True:
            out = await conn.run(["ip", "-br", "link", "show"], sudo=False, what="ip link")
            flags = parse_link_flags(out.stdout)
            pending = [t for t in taps if not flags.get(t)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise RemoteCommandError(
                    f"tap {', '.join(pending)} did not come up after the network config was "
                    "applied",
                    f"look at `ip link` and the {self.profile.network.backend} logs on the host",
                    host=self.host,
                )
            await asyncio.sleep(0.5)

    async def _switch_and_restart(
        self, conn: HostConnection, rid: str, old: str | None, switch: bool, restart: bool
    ) -> tuple[str | None, int | None]:
        return await switch_release(
            conn,
            self.rel,
            self.profile.unit_name,
            rid,
            old,
            switch=switch,
            restart=restart,
            profile=self.profile,
        )

    async def _check_running(
        self, conn: HostConnection, outcome: bootwatch.Outcome
    ) -> AsyncIterator[Event]:
        from workbench.engine import health
        from workbench.events import HealthResult

        start = time.monotonic()
        active = (
            await conn.run(
                ["systemctl", "is-active", self.profile.unit_name], check=False, sudo=False
            )
        ).stdout.strip()
        if active != "active":
            outcome.reason = f"{self.profile.unit_name} is {active}"
        elif self.profile.health is None or self.profile.health.kind == "log":
            outcome.ok = True
        else:
            outcome.ok, detail = await health.probe(conn, self.profile)
            if not outcome.ok:
                outcome.reason = detail
                outcome.hint = "it was not restarted (nothing changed): try --restart"
        yield HealthResult(
            host=self.host,
            step="health",
            ok=outcome.ok,
            target=health.describe(self.profile),
            detail=outcome.reason or "healthy",
            seconds=round(time.monotonic() - start, 3),
        )

    async def _record_boot(
        self, conn: HostConnection, rid: str, outcome: bootwatch.Outcome
    ) -> None:
        record = {
            "release": rid,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "phases": outcome.phases,
            "healthy_after": outcome.health_seconds,
        }
        await files.write_text(
            conn, f"{self.rel}/last-boot.json", json.dumps(record, sort_keys=True) + "\n"
        )

    async def _prune(self, conn: HostConnection, current: str, previous: str | None) -> None:
        keep = self.profile.releases.keep
        script = (
            'cd "$1/releases" 2>/dev/null || exit 0; n=0; '
            "for r in $(ls -1t); do n=$((n+1)); "
            '[ "$r" = "$2" ] || [ "$r" = "$3" ] || [ $n -le "$4" ] || rm -rf -- "$r"; done'
        )
        await conn.run(
            ["sh", "-c", script, "workbench-prune", self.rel, current, previous or "", str(keep)],
            check=False,
            what="pruning old releases",
        )


SWITCH_SCRIPT = (
    'set -e; cd "$1"; ln -sfn "releases/$2" current.workbench-new; '
    "mv -T current.workbench-new current; "
    'if [ -n "$3" ]; then ln -sfn "releases/$3" previous.workbench-new; '
    "mv -T previous.workbench-new previous; fi; sync ."
)


async def switch_release(
    conn: HostConnection,
    release_dir: str,
    unit: str,
    rid: str,
    old: str | None,
    *,
    switch: bool = True,
    restart: bool = True,
    profile: Profile | None = None,
) -> tuple[str | None, int | None]:
    """Point `current` at releases/RID (and `previous` at OLD) atomically, then restart the
    unit. Returns the journal cursor from before the restart and the unit's start time
    (CLOCK_MONOTONIC microseconds) for following its boot."""
    if switch:
        await conn.run(
            ["sh", "-c", SWITCH_SCRIPT, "workbench-switch", release_dir, rid, old or ""],
            what="switching current",
        )
    cursor = None
    started = None
    if restart:
        cursor = await journal.current_cursor(conn)
        # reset-failed first: the unit's start limit is there to stop a crash loop, not to
        # refuse the sixth deploy, restart or rollback in a minute ("Start request repeated
        # too quickly").
        await conn.run(
            [
                "sh",
                "-c",
                'systemctl reset-failed "$1" 2>/dev/null; exec systemctl restart "$1"',
                "workbench-restart",
                unit,
            ],
            timeout=60,
            what=f"systemctl restart {unit}",
        )
        started = await journal.unit_start_monotonic(conn, unit)
        if profile is not None:
            await health.forget_mac(conn, profile)
    return cursor, started


async def tender_sha(
    conn: HostConnection, tender: TenderSource | None, installed: str, tender_name: str
) -> tuple[str, str | None]:
    """(sha256 of the tender, remote path to copy it from when it is the host's own)."""
    if tender is not None:
        return tender.sha256, None
    if not installed:
        raise ArtifactError(
            f"no {tender_name} to run the unikernel with",
            "pass --tender PATH (the solo5-hvt built with the unikernel), set "
            "unikernel.tender in the profile, or install solo5-hvt on the host",
        )
    out = await conn.run(["sha256sum", installed], what=f"hashing {installed}")
    return out.stdout.split()[0], installed


def parse_link_flags(ip_br_link: str) -> dict[str, bool]:
    """`ip -br link` -> {name: IFF_UP}. The flags are the last column (`<...,UP>`); the state
    column says DOWN/NO-CARRIER for a tap until a tender attaches, which is fine: Solo5 checks
    IFF_UP."""
    out: dict[str, bool] = {}
    for line in ip_br_link.splitlines():
        words = line.split()
        if len(words) >= 2 and words[-1].startswith("<"):
            out[words[0].split("@")[0]] = "UP" in words[-1].strip("<>").split(",")
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


Runner = Callable[[], AsyncIterator[Event]]
