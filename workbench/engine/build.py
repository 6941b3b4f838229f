"""`workbench build`: a MirageOS unikernel built in an OPAM container on the profile's build host.

Steps, each an event stream on the build host: docker (the daemon over the SSH connection),
arch (builder vs every target: an aarch64 target needs an aarch64 builder), image (present,
or pulled), source (hashed; a cache hit ends the build here), container, mirage (installed into
the switch once), configure, depend, build (every line streamed), fetch (dist/NAME.TARGET and
the tender from `$(opam var bin)`, both inspected), toolchain (versions, known-bad combinations).

Two named volumes outlive the container: `VOLUME-opam-IMAGE` holds the opam root (the switch
`make depend` fills, so later builds are incremental; one per image, so a new image starts
clean) and `VOLUME-src-NAME` the build tree (duniverse/ and _build/ survive; the sources are
replaced on every build).
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from workbench.aio import shielded
from workbench.artifacts.elf import ArtifactInfo, inspect, require_target
from workbench.build import cache, toolchain
from workbench.build.source import Source, collect
from workbench.engine import buildcontainer
from workbench.engine.buildcontainer import OPAM_ROOT, WORK
from workbench.engine.release import TenderSource, local_tender
from workbench.errors import ArtifactError, BuildError, ConfigError, WorkbenchError
from workbench.events import (
    BuildLine,
    BuildResult,
    Event,
    Fact,
    HostDone,
    StepFinished,
    StepStarted,
    failure,
)
from workbench.profiles.loader import LoadedProfile
from workbench.remote.connection import Pool
from workbench.remote.dockerhost import DockerHost, ImageInfo

TAIL = 8  # lines of output quoted in a failure message


class Build:
    def __init__(
        self,
        loaded: LoadedProfile,
        pool: Pool,
        *,
        use_cache: bool = True,
        targets: list[str] | None = None,
    ) -> None:
        self.loaded = loaded
        self.profile = loaded.profile
        self.pool = pool
        self.use_cache = use_cache
        self.targets = targets or list(loaded.profile.targets)
        self.host = self.profile.build_host
        self.step = "source"  # reading the source directory comes first
        self.started = 0.0
        self.result: BuildResult | None = None
        # What _check_outputs found, for a deploy that follows: no second inspection.
        self.artifact: ArtifactInfo | None = None
        self.tender: TenderSource | None = None

    def _finish(self, changed: bool, detail: str) -> StepFinished:
        return StepFinished(
            host=self.host,
            step=self.step,
            changed=changed,
            detail=detail,
            seconds=round(time.monotonic() - self.started, 3),
        )

    def _start(self, step: str, detail: str = "") -> StepStarted:
        self.step, self.started = step, time.monotonic()
        return StepStarted(host=self.host, step=step, detail=detail)

    async def run(self) -> AsyncIterator[Event]:
        t0 = time.monotonic()
        try:
            async for event in self._run(t0):
                yield event
        except WorkbenchError as exc:
            for event in failure(self.host, self.step, exc):
                yield event

    async def _run(self, t0: float) -> AsyncIterator[Event]:
        p = self.profile
        if p.unikernel.source is None:
            raise ConfigError(
                f"profile '{self.loaded.name}' has no unikernel.source to build",
                "set unikernel.source to the directory that holds config.ml",
            )
        source = collect(p.unikernel.source)
        yield self._start("docker")
        conn = self.pool.get(self.host)
        async with DockerHost(conn) as docker:
            daemon = await docker.info()
            yield self._finish(False, f"docker {daemon.version} on {daemon.arch} ({daemon.os})")

            yield self._start("arch")
            await self._check_arch(daemon.arch)
            yield self._finish(False, f"{daemon.arch} builder for {', '.join(self.targets)}")

            yield self._start("image", p.build.image)
            image = await docker.image(p.build.image)
            pulled = False
            if image is None:
                async for line in self._pull(docker):
                    yield line
                image = await docker.image(p.build.image)
                pulled = True
                if image is None:
                    raise BuildError(f"{p.build.image} is still missing after the pull")
            if image.arch != daemon.arch:
                raise BuildError(
                    f"image {p.build.image} is {image.arch} but the builder is {daemon.arch}; "
                    "an emulated build would make an artifact for the wrong machine",
                    f"use the {daemon.arch} variant of the image (docker pull --platform)",
                    host=self.host,
                )
            yield self._finish(pulled, f"{p.build.image} {image.id[7:19]}{' (pulled)' * pulled}")

            yield self._start("source", str(source.root))
            key = cache.key(
                source.sha256,
                image.id,
                p.build.target,
                p.build.configure_flags,
                daemon.arch,
                source.name,
            )
            hit = cache.lookup(key) if self.use_cache else None
            if hit is not None:
                self._check_outputs(hit.artifact, hit.tender, daemon.arch)
                yield self._finish(
                    False,
                    f"{len(source.files)} files, sha256 {source.sha256[:12]}: built before "
                    f"({hit.meta.get('finished', '?')}), reusing it",
                )
                yield self._result(hit.artifact, hit.tender, True, hit.meta)
                yield self._done(f"{source.name}.{p.build.target} from the build cache", False)
                return
            yield self._finish(False, f"{len(source.files)} files, sha256 {source.sha256[:12]}")

            container = await self._container(docker, image, source)
            try:
                async for event in self._build(docker, container, image, source, daemon.arch, key):
                    yield event
            finally:
                await shielded(self._remove(docker, container))
        yield self._done(f"built {source.name}.{p.build.target} in {time.monotonic() - t0:.1f} s")

    def _done(self, summary: str, changed: bool = True) -> HostDone:
        return HostDone(host=self.host, step="done", ok=True, changed=changed, summary=summary)

    def _result(
        self, artifact: Path, tender: Path | None, cached: bool, meta: dict[str, object]
    ) -> BuildResult:
        self.result = BuildResult(
            host=self.host,
            step="build",
            artifact=str(artifact),
            tender=str(tender) if tender else "",  # "" for virtio: no tender
            cached=cached,
            meta=meta,
        )
        return self.result

    async def _check_arch(self, builder: str) -> None:
        """Every target runs what this builder makes: an emulated build is not offered."""
        # Targets not yet connected are connected for the builder's arch, which they must have
        # (else refused below): the deploy's upload that follows then has its cipher.
        self.pool.expect_arch([t for t in self.targets if t != self.host], builder)
        for target in self.targets:
            arch = builder if target == self.host else await self._target_arch(target)
            if arch != builder:
                raise ConfigError(
                    f"build host '{self.host}' is {builder} but target '{target}' is "
                    f"{arch}: an {arch} unikernel needs an {arch} builder",
                    f"set build.host to an {arch} host with docker -- the target itself "
                    f"can build (build.host: {target})",
                )

    async def _target_arch(self, target: str) -> str:
        result = await self.pool.get(target).run(["uname", "-m"], sudo=False, what="uname -m")
        return result.stdout.strip()

    async def _pull(self, docker: DockerHost) -> AsyncIterator[Event]:
        image = self.profile.build.image
        try:
            async for line in docker.pull(image):
                yield BuildLine(host=self.host, step="image", stream="pull", text=line)
        except BuildError as exc:
            raise BuildError(
                f"image {image} is not on {self.host} and cannot be pulled: {exc.message}",
                f"on a machine that can reach the registry: docker pull {image} && "
                f"docker save {image} | ssh {self.pool.get(self.host).host.address} "
                "docker load; or set build.image to an image the build host has",
                host=self.host,
            ) from None

    async def _container(self, docker: DockerHost, image: ImageInfo, source: Source) -> str:
        b = self.profile.build
        container = await docker.create_container(
            image.id,
            entrypoint=["sleep"],
            command=["infinity"],
            volumes={
                f"{b.volume}-opam-{image.id.split(':')[-1][:12]}": OPAM_ROOT,
                f"{b.volume}-src-{source.name}": WORK,
            },
            labels={"org.workbench.build": source.name, "org.workbench.profile": self.loaded.name},
        )
        await docker.start(container)
        return container

    async def _remove(self, docker: DockerHost, container: str) -> None:
        with contextlib.suppress(WorkbenchError):  # the build's own outcome matters more
            await docker.remove(container)

    async def _build(
        self,
        docker: DockerHost,
        container: str,
        image: ImageInfo,
        source: Source,
        arch: str,
        key: str,
    ) -> AsyncIterator[Event]:
        b = self.profile.build
        started = time.time()
        tree = f"{WORK}/{source.name}"
        yield self._start("container")
        user = await buildcontainer.upload(
            docker, container, source, tree, image=b.image, host=self.host
        )
        yield self._finish(True, f"{len(source.files)} files in {tree} as {user}")

        version = ["opam", "exec", "--", "mirage", "--version"]
        code, out, _ = await docker.run_capture(container, version, workdir=tree)
        if code != 0:
            argv = ["opam", "install", "--yes", "mirage"]
            async for event in self._stream(docker, container, "mirage", argv, tree):
                yield event
            code, out, _ = await docker.run_capture(container, version, workdir=tree)
        mirage_version = out.strip()

        steps = [
            ("configure", ["mirage", "configure", "-t", b.target, *b.configure_flags]),
            ("depend", ["make", "depend"]),
            ("build", ["make", "build"]),
        ]
        ready: str | None = None
        for step, argv in steps:
            async for event in self._stream(
                docker, container, step, ["opam", "exec", "--", *argv], tree
            ):
                if isinstance(event, BuildLine):
                    ready = toolchain.ready_path(event.text) or ready
                yield event

        yield self._start("fetch")
        relative = ready or f"./dist/{source.name}.{b.target}"
        artifact_path = f"{tree}/{relative.removeprefix('./')}"
        artifact_bytes, tender_bytes, tender_version = await buildcontainer.fetch(
            docker, container, tree, artifact_path, b.target
        )
        ocaml, packages = await buildcontainer.versions(docker, container)
        packages.setdefault("mirage", mirage_version)
        art_name = Path(artifact_path).name
        meta = self._meta(
            source,
            image,
            arch,
            started,
            artifact=art_name,
            ocaml=ocaml,
            tender_version=tender_version,
            packages=packages,
        )
        outputs = {art_name: artifact_bytes}
        if tender_bytes is not None:
            outputs[f"solo5-{b.target}"] = tender_bytes
        entry = cache.store(key, outputs, meta)
        info, tender = self._check_outputs(entry.artifact, entry.tender, arch)
        abi = f"{info.abi.target if info.abi else '?'} v{info.abi.version if info.abi else '?'}"
        beside = f" and solo5-{b.target} ({tender.machine})" if tender else ""
        yield self._finish(
            True,
            f"{art_name} ({info.size} bytes, {info.machine}, solo5 ABI {abi}){beside} "
            f"-> {entry.directory}",
        )

        self.step = "toolchain"
        for fact in self._toolchain_facts(ocaml, packages, tender_version):
            yield fact
        yield self._result(entry.artifact, entry.tender, False, meta)

    def _meta(
        self,
        source: Source,
        image: ImageInfo,
        arch: str,
        started: float,
        *,
        artifact: str,
        ocaml: str | None,
        tender_version: str | None,
        packages: dict[str, str],
    ) -> dict[str, object]:
        """The cache entry's record of this build, as `build` and the deploy's release show it."""
        b = self.profile.build
        return {
            "name": source.name,
            "profile": self.loaded.name,
            "builder": self.host,
            "builder_arch": arch,
            "source": str(source.root),
            "source_sha256": source.sha256,
            "image": b.image,
            "image_id": image.id,
            "target": b.target,
            "configure_flags": list(b.configure_flags),
            "ocaml": ocaml,
            "tender_version": tender_version,
            "packages": packages,
            "artifact_file": artifact,
            "tender_file": f"solo5-{b.target}" if b.target != "virtio" else None,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.time() - started, 1),
        }

    def _toolchain_facts(
        self, ocaml: str | None, packages: dict[str, str], tender_version: str | None
    ) -> Iterator[Fact]:
        versions = ", ".join(f"{k} {v}" for k, v in sorted(packages.items()))
        value = f"OCaml {ocaml or '?'}; {versions}; tender {tender_version or '?'}"
        yield Fact(host=self.host, step="toolchain", name="versions", value=value)
        for problem, hint in toolchain.problems(ocaml, packages):
            yield Fact(
                host=self.host,
                step="toolchain",
                name="compatibility",
                value=problem,
                ok=False,
                hint=hint,
            )

    def _check_outputs(
        self, artifact: Path, tender: Path | None, arch: str
    ) -> tuple[ArtifactInfo, TenderSource | None]:
        info = inspect(artifact)
        require_target(info, self.profile.build.target)
        if info.machine != arch:
            raise ArtifactError(
                f"the build made an {info.machine} artifact on an {arch} builder ({artifact})",
                "check the build image's platform",
            )
        if tender is None:  # virtio: the host's QEMU runs it
            self.artifact, self.tender = info, None
            return info, None
        t = local_tender(tender)
        if t.machine != info.machine:
            raise ArtifactError(
                f"the fetched tender is {t.machine} but the artifact is {info.machine}",
                "both must come from the same build",
            )
        self.artifact, self.tender = info, t
        return info, t

    async def _stream(
        self, docker: DockerHost, container: str, step: str, argv: list[str], workdir: str
    ) -> AsyncIterator[Event]:
        shown = shlex.join(argv[3:] if argv[:3] == ["opam", "exec", "--"] else argv)
        yield self._start(step, shown)
        tail: list[str] = []
        code = 255
        async for stream, text in docker.exec_lines(container, argv, workdir=workdir):
            if stream == "exit":
                code = int(text)
                break
            tail = [*tail[-(TAIL - 1) :], text]
            yield BuildLine(host=self.host, step=step, stream=stream, text=text)
        if code != 0:
            last = "\n".join(f"  {line}" for line in tail)
            raise BuildError(
                f"`{shown}` failed on {self.host} (exit {code})"
                + (f"; last lines:\n{last}" if last else ""),
                "fix the source (the lines above say where) and run the build again",
                host=self.host,
            )
        yield self._finish(True, f"`{shown}` ok")
