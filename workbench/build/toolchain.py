"""What the build container's toolchain is, and which combinations are known not to work.

Facts for the check (from the ocaml-solo5 releases): OCaml 5.2.0 has no ocaml-solo5 at all;
5.2.1 needs ocaml-solo5 1.0.1; 5.3.x needs >= 1.1.0; 5.4.x needs >= 1.2.0. The `solo5` package
that `make depend` installs must be < 0.13.0 for a MirageOS 4 unikernel (its generated opam file
says so), and it also provides the tender that is deployed with the artifact.
"""

from __future__ import annotations

import re

PACKAGES = ("mirage", "solo5", "ocaml-solo5", "mirage-solo5", "dune")
READY = re.compile(r"Your unikernel binary is now ready in (\S+)")


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text.split("~")[0].split("+")[0])[:3])


def parse_opam_list(text: str) -> dict[str, str]:
    """`opam list --installed NAMES` rows -> {name: version}; `--` means not installed."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[1] != "--":
            found[parts[0]] = parts[1]
    return found


def parse_ocaml_version(text: str) -> str | None:
    """`ocaml -vnum` ("5.3.0") or `ocaml -version` ("The OCaml toplevel, version 5.3.0")."""
    match = re.search(r"(\d+\.\d+\.\d+\S*)", text)
    return match.group(1) if match else None


def problems(ocaml: str | None, packages: dict[str, str]) -> list[tuple[str, str]]:
    """(problem, what to do) for each known-incompatible combination."""
    out: list[tuple[str, str]] = []
    if ocaml is None:
        return out
    o = version_tuple(ocaml)
    solo5 = packages.get("ocaml-solo5")
    s = version_tuple(solo5) if solo5 else None
    if o[:3] == (5, 2, 0):
        out.append(
            (
                "OCaml 5.2.0 has no ocaml-solo5 release: a Solo5 build cannot work",
                "use an image with OCaml 5.2.1 (ocaml-solo5 1.0.1) or 5.3 (>= 1.1.0)",
            )
        )
    elif s is not None:
        need = {(5, 2): ((1, 0, 1), "= 1.0.1"), (5, 3): ((1, 1, 0), ">= 1.1.0")}.get(
            (o[0], o[1]) if len(o) >= 2 else (o[0], 0)
        )
        if o[:2] >= (5, 4):
            need = ((1, 2, 0), ">= 1.2.0")
        if need is not None:
            wanted, text = need
            bad = s != wanted if text.startswith("=") else s < wanted
            if bad:
                out.append(
                    (
                        f"OCaml {ocaml} with ocaml-solo5 {solo5}: OCaml "
                        f"{'.'.join(map(str, o[:2]))} needs ocaml-solo5 {text}",
                        "opam update && make depend (or pick an image matching ocaml-solo5)",
                    )
                )
    solo5_pkg = packages.get("solo5")
    if solo5_pkg and version_tuple(solo5_pkg) >= (0, 13, 0):
        out.append(
            (
                f"solo5 {solo5_pkg} is newer than MirageOS 4 unikernels accept (< 0.13.0)",
                "pin solo5 below 0.13.0 in the switch",
            )
        )
    return out


def ready_path(line: str) -> str | None:
    """The artifact path from `make build`'s closing line, e.g. ./dist/hello.hvt."""
    match = READY.search(line)
    return match.group(1) if match else None
