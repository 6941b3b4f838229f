"""What `workbench build` runs in its container besides the streamed steps: the source tree put
in place as the image's own user, the outputs taken out, and the toolchain's versions asked.

The image is not ours, so everything it prints is parsed as untrusted text.
"""

from __future__ import annotations

import re
import shlex

from workbench.artifacts.tender import parse_tender_version
from workbench.build import toolchain
from workbench.build.source import Source
from workbench.errors import BuildError, WorkbenchError
from workbench.numbers import to_int
from workbench.remote.dockerhost import DockerHost
from workbench.textsafe import sanitize

OPAM_ROOT = "/home/opam/.opam"
WORK = "/home/opam/build"
USER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


async def upload(
    docker: DockerHost, container: str, source: Source, tree: str, *, image: str, host: str
) -> str:
    """The source into `tree` (duniverse/ and _build/ kept), owned by the image's user, who also
    gets the volumes; that user's name."""
    code, ids, err = await docker.run_capture(container, ["sh", "-c", "id -un; id -u; id -g"])
    words = ids.split()
    # The image's `id` may print anything: uid and gid go into a chown.
    uid, gid = (to_int(w) for w in words[1:3]) if len(words) == 3 else (None, None)
    if code != 0 or uid is None or gid is None or not USER_NAME.fullmatch(words[0]):
        shown = sanitize((err.strip() or ids)[:200])
        raise BuildError(
            f"the build image {image} cannot run `sh -c id` as expected ({shown})",
            "use an OPAM image (ocaml/opam) or one with a shell and coreutils",
            host=host,
        )
    prepare = (
        f"set -e; chown {uid}:{gid} {WORK} {OPAM_ROOT}; mkdir -p {shlex.quote(tree)}; "
        f"chown {uid}:{gid} {shlex.quote(tree)}; cd {shlex.quote(tree)}; "
        "find . -mindepth 1 -maxdepth 1 ! -name duniverse ! -name _build -exec rm -rf {} +"
    )
    code, _out, err = await docker.run_capture(container, ["sh", "-c", prepare], user="root")
    if code != 0:
        raise BuildError(f"preparing {tree} in the build container failed: {err.strip()}")
    await docker.put_archive(container, tree, source.tar(uid, gid))
    return words[0]


async def fetch(
    docker: DockerHost, container: str, tree: str, artifact: str, target: str
) -> tuple[bytes, bytes | None, str | None]:
    """The artifact's and the switch's tender's bytes, and the version the tender reports; for
    virtio no tender (the host's QEMU runs it; Solo5 installs only solo5-virtio-run, a script)."""
    if target == "virtio":
        return await docker.get_file(container, artifact), None, None
    code, bindir, err = await docker.run_capture(container, ["opam", "var", "bin"], workdir=tree)
    if code != 0:
        raise BuildError(f"`opam var bin` failed in the build container: {err.strip()}")
    tender_path = f"{bindir.strip()}/solo5-{target}"
    artifact_bytes = await docker.get_file(container, artifact)
    tender_bytes = await docker.get_file(container, tender_path)
    code, out, err = await docker.run_capture(container, [tender_path, "--version"])
    try:
        tender_version = parse_tender_version(err + out).text
    except WorkbenchError:
        tender_version = None  # inspected later; a tender that cannot say is still checked
    return artifact_bytes, tender_bytes, tender_version


async def versions(docker: DockerHost, container: str) -> tuple[str | None, dict[str, str]]:
    """The OCaml version, and the versions of the opam packages the known problems name."""
    _, ocaml, _ = await docker.run_capture(container, ["opam", "exec", "--", "ocaml", "-version"])
    _, listed, _ = await docker.run_capture(
        container, ["opam", "list", "--installed", *toolchain.PACKAGES]
    )
    return toolchain.parse_ocaml_version(ocaml), toolchain.parse_opam_list(listed)
