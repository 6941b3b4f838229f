"""A release: the unikernel and the tender that runs it, named by both their hashes."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from workbench import render
from workbench.artifacts.elf import ArtifactInfo, inspect, sha256_file
from workbench.errors import ArtifactError, ConfigError
from workbench.profiles.loader import LoadedProfile


@dataclass(frozen=True)
class TenderSource:
    """A tender binary on this machine (--tender or unikernel.tender)."""

    path: Path
    sha256: str
    size: int
    machine: str


def local_tender(path: Path) -> TenderSource:
    info = inspect(path, require_solo5=False)
    if info.abi is not None:
        raise ArtifactError(
            f"{path} is a Solo5 unikernel, not a tender",
            "pass the solo5-hvt program that was built with the unikernel",
        )
    return TenderSource(path=path, sha256=info.sha256, size=info.size, machine=info.machine)


# The Solo5 targets workbench runs (the artifact's ABI note names one).
RUNTIMES = ("hvt", "spt", "virtio")


def release_id(artifact_sha: str, tender_sha: str) -> str:
    return hashlib.sha256(f"{artifact_sha}:{tender_sha}".encode()).hexdigest()[:16]


def release_metadata(
    rid: str,
    profile: str,
    artifact: ArtifactInfo,
    tender_sha: str,
    build: dict[str, object] | None,
    runtime: str = "",
) -> dict[str, object]:
    """meta.json of a release: what it is made of, what runs it and where it came from."""
    return {
        "id": rid,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "profile": profile,
        "runtime": runtime,
        "artifact": {
            "name": Path(artifact.path).name,
            "sha256": artifact.sha256,
            "size": artifact.size,
            "machine": artifact.machine,
            "abi": artifact.query_abi(),
            "devices": artifact.query_manifest()["devices"],
        },
        "tender": {"sha256": tender_sha},
        **({"build": build} if build else {}),
    }


def resolve_artifact(loaded: LoadedProfile, arg: str | None) -> ArtifactInfo | None:
    """The artifact to use: --artifact, else unikernel.artifact; None when it is to be built."""
    path = Path(arg) if arg else loaded.profile.unikernel.artifact
    if path is None:
        return None
    info = inspect(path)
    assert info.abi is not None  # inspect() refuses a file without the Solo5 ABI note
    if info.abi.target not in RUNTIMES:
        raise ArtifactError(
            f"{path} is built for solo5-{info.abi.target}, which workbench does not deploy; "
            f"it runs {' and '.join(RUNTIMES)} unikernels",
            "rebuild with `mirage configure -t hvt` (KVM hosts), `-t spt` (no KVM needed) or "
            "`-t virtio` (x86_64 under QEMU)",
        )
    return info


def own_artifact(loaded: LoadedProfile) -> ArtifactInfo | None:
    """The unikernel's own `artifact` when the file is there (`check` also runs before the
    build that makes it); for runtime qemu, its disk or kernel."""
    if loaded.profile.runtime == "qemu":
        return qemu_file(loaded)
    path = loaded.profile.unikernel.artifact
    return resolve_artifact(loaded, None) if path is not None and path.is_file() else None


def runs(loaded: LoadedProfile, artifact: ArtifactInfo | None) -> LoadedProfile:
    """The profile as the artifact runs: its Solo5 target picks the tender (`--artifact X.spt`
    runs under solo5-spt whatever build.target says, which is for source builds)."""
    target = artifact.abi.target if artifact is not None and artifact.abi else None
    p = loaded.profile
    if target is None or target == p.build.target:
        return loaded
    build = p.build.model_copy(update={"target": target})
    return replace(loaded, profile=p.model_copy(update={"build": build}))


def qemu_file(loaded: LoadedProfile) -> ArtifactInfo:
    """`runtime: qemu`: the disk image or kernel QEMU boots, as the release's one file. Not a
    Solo5 unikernel: no ABI note; the devices are the profile's own (networks, block)."""
    uk = loaded.profile.unikernel
    assert uk.qemu is not None  # the model requires it, with a disk or a kernel
    path = uk.qemu.disk or uk.qemu.kernel
    assert path is not None
    try:
        digest, size = sha256_file(path), path.stat().st_size
    except OSError as exc:
        raise ArtifactError(
            f"{path}: cannot read it ({exc.strerror or exc})",
            f"check unikernel.qemu.{'disk' if uk.qemu.disk else 'kernel'} in the profile",
        ) from None
    if uk.qemu.disk is not None and uk.qemu.disk_format == "qcow2":
        from workbench import diskimage  # the image code: only for a qcow2 guest

        diskimage.qcow2_alone(path)  # QEMU would follow a backing file on the host
    devices = render.assumed_devices(loaded.profile)  # the profile's networks, then block
    # QEMU runs an x86_64 machine: the host must be one (preflight says so otherwise).
    return ArtifactInfo(str(path), size, digest, "x86_64", 64, None, devices)


def job(loaded: LoadedProfile, artifact: str | None = None, tender: str | None = None) -> Job:
    """One unikernel's job: --artifact/--tender, else its own `artifact`/`tender`, else built."""
    if loaded.profile.runtime == "qemu":
        if artifact or tender:
            raise ConfigError(
                "--artifact and --tender are for Solo5 unikernels; a runtime qemu unikernel "
                "boots its qemu.disk or qemu.kernel",
                "drop them, or change unikernel.qemu in the profile",
            )
        return Job(loaded, qemu_file(loaded), None)
    info = resolve_artifact(loaded, artifact)
    if info is None and tender:
        raise ConfigError(
            "--tender goes with --artifact: a source build brings its own tender",
            "drop --tender, or pass both --artifact and --tender",
        )
    runner = runs(loaded, info)
    if tender and not runner.profile.tender_in_release:
        raise ConfigError(
            "--tender is for solo5-hvt/solo5-spt: a virtio unikernel runs under the host's "
            "qemu-system-x86_64, which no release carries",
            "drop --tender (install qemu-system-x86 on the host)",
        )
    return Job(runner, info, resolve_tender(runner, tender) if info else None)


def resolve_tender(loaded: LoadedProfile, arg: str | None) -> TenderSource | None:
    """The tender to bring: --tender, else unikernel.tender; None to use the host's own (and
    for virtio, whose runner is the host's QEMU)."""
    if not loaded.profile.tender_in_release:
        return None
    path = Path(arg) if arg else loaded.profile.unikernel.tender
    return local_tender(path) if path is not None else None


@dataclass(frozen=True)
class Job:
    """One unikernel of a profile (a view) with the artifact and tender to deploy, if given."""

    loaded: LoadedProfile
    artifact: ArtifactInfo | None = None
    tender: TenderSource | None = None


def jobs(
    loaded: LoadedProfile,
    only: Sequence[str] = (),
    artifact: str | None = None,
    tender: str | None = None,
) -> list[Job]:
    """The profile's unikernels to act on (`only`: by name), `after:` ones first, each with its
    artifact and tender: --artifact/--tender, else its own `artifact`/`tender`, else built."""
    views = loaded.views(only)
    if (artifact is not None or tender is not None) and len(views) > 1:
        names = ", ".join(v.profile.unikernel.name for v in views)
        given = "--artifact" if artifact is not None else "--tender"
        raise ConfigError(
            f"{given} is one unikernel's, and profile '{loaded.name}' has several ({names})",
            "say which with --unikernel NAME",
        )
    return [job(view, artifact, tender) for view in views]
