"""Deploy one host: read its facts, decide (engine/decide.py), execute exactly that decision,
then follow the boot, health-check, and roll back on failure.

Every change was decided from a difference between what the host has and what the profile
wants, so a second deploy with nothing changed writes nothing and restarts nothing. The switch
of `current` and the restart that follows run shielded from cancellation: Ctrl-C leaves the
host on the old release or fully on the new one, never between.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from workbench import render
from workbench.aio import shielded
from workbench.artifacts.elf import ArtifactInfo
from workbench.artifacts.tender import TenderVersion, parse_tender_version
from workbench.engine import bootwatch, configure, health, hostinfo, qemucheck
from workbench.engine.decide import Decision, decide
from workbench.engine.locked import Held, locked
from workbench.engine.release import TenderSource, release_metadata
from workbench.engine.switch import UNIT_RUNS_ONE, runtime_clash, switch_and_restart
from workbench.errors import ArtifactError, HealthError, WorkbenchError
from workbench.events import (
    Event,
    Fact,
    HealthResult,
    HostDone,
    RolledBack,
    StepFinished,
    StepStarted,
    UploadProgress,
)
from workbench.profiles.loader import LoadedProfile
from workbench.remote import blockimg, files, release, systemd
from workbench.remote.connection import Pool
from workbench.remote.facts import HostFacts


@dataclass(frozen=True)
class DeployOptions:
    restart: bool = False
    rollback: bool = True
    build: dict[str, object] | None = None  # metadata of the build that made the artifact


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
        self.executed: list[str] = []  # the decided changes made, in order
        self.notes: list[str] = []  # said in the summary

    def run(self) -> AsyncIterator[Event]:
        return locked(self.pool, self.loaded, self.host, "facts", self._run, announce=True)

    # -- steps as events -----------------------------------------------------------------------

    def _start(self, step: str, detail: str = "") -> StepStarted:
        self.held.step = step
        self.held.started_at = time.monotonic()
        return StepStarted(host=self.host, step=step, detail=detail)

    def _done(self, detail: str, *made: str) -> StepFinished:
        """Finish the current step; `made` are the decided changes it carried out."""
        self.executed += made
        if made:
            self.held.changed = True
        return StepFinished(
            host=self.host,
            step=self.held.step,
            changed=bool(made),
            detail=detail,
            seconds=round(time.monotonic() - self.held.started_at, 3),
        )

    async def _run(self, held: Held) -> AsyncIterator[Event]:
        self.held = held
        facts: list[HostFacts] = []
        async for event in self._facts(facts):
            yield event
        self.facts = facts[0]
        decision = decide(
            self.loaded,
            self.artifact,
            self.tender,
            facts[0],
            force_restart=self.options.restart,
            host=self.host,
        )
        self.decision = decision
        held.release = decision.release or None
        async for event in self._preflight(facts[0], decision):
            yield event
        async for event in self._configure(facts[0]):
            yield event
        async for event in self._switch_and_watch():
            yield event

    async def _facts(self, out: list[HostFacts]) -> AsyncIterator[Event]:
        yield self._start("facts")
        facts = await hostinfo.gather(
            self.held.conn,
            self.loaded,
            self.artifact,
            tender_sha=self.tender.sha256 if self.tender else "",
        )
        out.append(facts)
        yield self._done(
            f"{facts.arch}, systemd {facts.systemd}, current release "
            f"{facts.current_release or 'none'}"
        )

    async def _preflight(self, facts: HostFacts, decision: Decision) -> AsyncIterator[Event]:
        yield self._start("preflight")
        for check in decision.checks:
            yield Fact(
                host=self.host,
                step="preflight",
                name=check.name,
                value=check.value,
                ok=check.ok,
                hint=check.hint,
            )
        if decision.refusal is not None:
            raise decision.refusal
        yield self._done(f"ok, network backend {decision.backend}")

    async def _configure(self, facts: HostFacts) -> AsyncIterator[Event]:
        """Upload, tender, user, network, unit: each makes its decided change or says why not."""
        d, p, conn = self.decision, self.profile, self.held.conn
        yield self._start("upload")
        # Housekeeping, not a decided change: we hold the lock, so no staging dir is in use.
        await files.clean_stale_uploads(conn, p.release_dir)
        if d.changes_at("upload"):
            async for event in self._upload():
                yield event
        else:
            yield self._done(f"release {d.release} already on the host (hashes verified)")

        yield self._start("tender")
        if p.tender_in_release and d.tender_version is None:
            path = f"{p.release_dir}/releases/{d.release}/{p.tender_name}"
            version = parse_tender_version(await release.tender_version_text(conn, path))
            self._redecide(facts, version)
            d = self.decision
        v = d.tender_version  # None for virtio and qemu: the host's QEMU runs it
        yield self._done(f"{v.name} {v.text}, ABI {v.abi}" if v else qemucheck.summary(p, facts))

        yield self._start("user")
        if d.changes_at("user"):
            await release.create_service_user(conn, p.service.user, p.service.group)
            yield self._done(
                f"created system user {p.service.user} in group {p.service.group}", "user"
            )
        else:
            yield self._done(f"{p.service.user} exists")

        if d.has_blocks:
            yield self._start("block")
            if change := d.change("block"):
                images = [(b.path, b.size) for b in d.blocks]
                await blockimg.make_or_grow(conn, p.service.user, p.service.group, images)
                yield self._done(change.what, "block")
            else:
                yield self._done(f"{len(p.block_paths)} image(s) in place")

        yield self._start("network")
        if d.changes_at("network"):
            await configure.apply_network(self.held, d, p, facts)
            yield self._done(f"{d.backend}: applied", "network")
        else:
            yield self._done(f"{d.backend}: unchanged")

        yield self._start("unit")
        assert d.unit is not None
        made = await configure.install_unit(conn, d, p)
        said = {"unit": "written, daemon-reload", "enable": "enabled", "owner": "owner recorded"}
        detail = f" ({', '.join(said[m] for m in made)})" if made else " unchanged"
        yield self._done(d.unit.path + detail, *made)

    def _redecide(self, facts: HostFacts, version: TenderVersion) -> None:
        """Decide again now that the uploaded tender's version is known. Deploy never carries
        out what plan did not show: a decision that differs stops here (nothing has changed on
        the host but a new release directory), and the next run knows the version."""
        before = self.decision
        after = decide(
            self.loaded,
            self.artifact,
            self.tender,
            facts,
            version=version,
            force_restart=self.options.restart,
            host=self.host,
        )
        if after.refusal is not None:
            raise after.refusal
        if (after.steps, after.unit) != (before.steps, before.unit):
            raise ArtifactError(
                f"the tender's version ({version.text}) changes what deploy would do "
                f"({' '.join(before.steps)} -> {' '.join(after.steps)}); nothing else was changed",
                "run `workbench plan` to see the new plan, then deploy again",
            )
        self.decision = after

    async def _upload(self) -> AsyncIterator[Event]:
        d, p, conn, a = self.decision, self.profile, self.held.conn, self.artifact
        final = f"{p.release_dir}/releases/{d.release}"
        kernel = render.kernel_name(p)
        items = [files.UploadFile(Path(a.path), kernel, a.sha256, a.size, "0644")]
        if self.tender is not None:
            t = self.tender
            items.append(files.UploadFile(t.path, p.tender_name, t.sha256, t.size, "0755"))
        copies = []
        if d.tender_from_host:
            copies = [(d.tender_from_host, p.tender_name, d.tender_sha, "0755")]
        progress: list[UploadProgress] = []

        def on_progress(done: int, total: int) -> None:
            progress.append(UploadProgress(host=self.host, step="upload", done=done, total=total))

        meta = release_metadata(
            d.release, self.loaded.name, a, d.tender_sha, self.options.build, p.runtime
        )
        await files.upload_release(
            conn, final, items, json.dumps(meta, sort_keys=True), on_progress, copies
        )
        if progress:
            yield progress[-1]
        size = sum(i.size for i in items)
        what = f"{kernel} + {p.tender_name}" if p.tender_in_release else kernel
        yield self._done(
            f"release {d.release}: {what} ({size / 1024:.0f} KiB) verified",
            "upload",
        )

    # -- switch, restart, boot, health, rollback -----------------------------------------------

    async def _switch_and_watch(self) -> AsyncIterator[Event]:
        d, p, conn = self.decision, self.profile, self.held.conn
        switch, restart = d.changes_at("switch"), d.changes_at("restart")
        yield self._start("switch")
        cursor: str | None = None
        started: int | None = None
        if switch or restart:
            cursor, started = await shielded(
                switch_and_restart(conn, p, d.release, d.previous, switch=switch, restart=restart)
            )
        if switch:
            yield self._done(f"current -> {d.release} (was {d.previous or 'none'})", "switch")
        else:
            yield self._done(f"current is {d.release}")
        self.held.step = "restart"
        yield self._done(
            f"restarted {p.unit_name}" if restart else "not restarted: nothing changed",
            *(["restart"] if restart else []),
        )

        outcome = bootwatch.Outcome()
        self._start("health")
        if restart:
            async for event in bootwatch.watch(conn, p, p.unit_name, cursor, outcome, started):
                yield event
        else:
            async for event in self._check_running(outcome):
                yield event
        if outcome.ok:
            yield await self._succeeded(outcome, restart)
            return
        async for event in self._failed(outcome, restart):
            yield event

    async def _succeeded(self, outcome: bootwatch.Outcome, restarted: bool) -> HostDone:
        d, p, conn = self.decision, self.profile, self.held.conn
        notes = list(self.notes)
        if restarted:
            # The release is switched and healthy: the deploy has succeeded. Its boot timings
            # are a nicety that a full disk must not turn into a failure.
            record = {
                "release": d.release,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "phases": outcome.phases,
                "healthy_after": outcome.health_seconds,
            }
            try:
                text = json.dumps(record, sort_keys=True) + "\n"
                await release.write_boot_record(conn, p.release_dir, text)
            except WorkbenchError as exc:
                notes.append(f"boot timings not recorded: {exc.message}")
            await release.prune(conn, p.release_dir, p.releases.keep, d.release, d.previous)
        # The executor's promise: it made exactly the decided changes, in their order.
        assert self.executed == list(d.steps), (self.executed, d.steps)
        changed = self.held.changed
        note = "".join(f" ({n})" for n in notes)
        summary = (
            f"deployed {d.release}" if changed else f"{d.release} already deployed; nothing to do"
        )
        return HostDone(
            host=self.host,
            step="done",
            ok=True,
            changed=changed,
            release=d.release,
            summary=summary + note,
        )

    async def _failed(self, outcome: bootwatch.Outcome, restarted: bool) -> AsyncIterator[Event]:
        """Roll back to the release that ran before, when there is one and we restarted."""
        d, p, conn = self.decision, self.profile, self.held.conn
        previous, rid = d.rollback_to, d.release
        clash = None
        if restarted and self.options.rollback and previous:
            try:
                found = await runtime_clash(conn, p, previous, rid)
                clash = f"{found}, and {UNIT_RUNS_ONE}" if found else None
            except WorkbenchError as exc:  # the health failure stays the news
                clash = f"the releases' tenders could not be read ({exc.message})"
        if clash is None and restarted and self.options.rollback and previous:
            self._start("rollback")
            rb_cursor, rb_started = await shielded(switch_and_restart(conn, p, previous, rid))
            # Go on from the failed boot's last line shown, not from the restart: the lines in
            # between (systemd's word on how the process ended) belong in the report too.
            if rb_started is not None:  # without it the old run's lines would be fed as ours
                rb_cursor = outcome.last_cursor or rb_cursor
            rb = bootwatch.Outcome()
            async for event in bootwatch.watch(
                conn,
                p,
                p.unit_name,
                rb_cursor,
                rb,
                rb_started,
                step="rollback",
                health_step="rollback",
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
            self.held.step = "health"  # what failed is the new release's health, not the rollback
            raise HealthError(
                f"{rid} failed: {outcome.reason}; rolled back to {previous} ({state})",
                outcome.hint,
            )
        verdict = "did not start" if outcome.before_start else "is not healthy"
        kept = f"; not rolled back: {clash}" if clash else ""
        hint = outcome.hint or f"journalctl -u {p.unit_name} on the host"
        if clash:
            hint += (
                f"; to go back, deploy {previous}'s artifact again (`workbench deploy "
                "--artifact FILE`): the unit follows its runtime"
            )
        raise HealthError(f"{rid} {verdict}: {outcome.reason}{kept}", hint)

    async def _check_running(self, outcome: bootwatch.Outcome) -> AsyncIterator[Event]:
        p, conn = self.profile, self.held.conn
        start = time.monotonic()
        # Nothing done since the facts were read under the lock: their state is the state now.
        active = self.facts.unit_active
        if self.executed:
            active = await systemd.is_active(conn, p.unit_name)
        if active != "active":
            outcome.reason = f"{p.unit_name} is {active}"
        elif p.health is None or p.health.kind == "log":
            outcome.ok = True
        else:
            outcome.ok, detail = await health.probe(conn, p)
            if not outcome.ok:
                outcome.reason = detail
                outcome.hint = "it was not restarted (nothing changed): try --restart"
        yield HealthResult(
            host=self.host,
            step="health",
            ok=outcome.ok,
            target=health.describe(p),
            detail=outcome.reason or "healthy",
            seconds=round(time.monotonic() - start, 3),
        )
