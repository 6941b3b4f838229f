"""A MirageOS source directory as the build container gets it: the files that matter, a tar
stream of them and a hash of their contents.

Left out: `_build`, `dist`, `duniverse`, `.git` and what the directory's `.gitignore` lists
(the common subset of gitignore: comments, `!` negation, a leading `/` anchors, a trailing `/`
matches directories only, `*`, `?`, `[...]` and `**`). The hash covers paths, the executable
bit and contents -- not times -- so touching a file does not force a rebuild.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import ConfigError

ALWAYS_EXCLUDED = ("_build", "dist", "duniverse", ".git")
REGISTER = re.compile(r'\bregister\s+(?:~[a-z_]+(?::\S+)?\s+)*"([A-Za-z0-9_-]+)"')


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative, with /
    mode: int
    data: bytes


@dataclass(frozen=True)
class Source:
    root: Path
    name: str  # from `register "NAME"` in config.ml
    files: tuple[SourceFile, ...]
    sha256: str

    def tar(self, uid: int = 0, gid: int = 0) -> bytes:
        """An uncompressed tar of the files, owned by uid:gid, for put_archive."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            dirs: set[str] = set()
            for f in self.files:
                parts = f.path.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        info = tarfile.TarInfo(d)
                        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, uid, gid
                        tar.addfile(info)
                info = tarfile.TarInfo(f.path)
                info.size, info.mode, info.uid, info.gid = len(f.data), f.mode, uid, gid
                tar.addfile(info, io.BytesIO(f.data))
        return buf.getvalue()


class _Rule:
    def __init__(self, line: str) -> None:
        self.negate = line.startswith("!")
        line = line[1:] if self.negate else line
        self.dir_only = line.endswith("/")
        line = line.rstrip("/")
        self.anchored = "/" in line
        self.regex = re.compile(_glob_to_regex(line.lstrip("/")))

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if self.anchored:
            return bool(self.regex.fullmatch(rel))
        return bool(self.regex.fullmatch(rel.rsplit("/", 1)[-1]))


def _glob_to_regex(glob: str) -> str:
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def gitignore_rules(text: str) -> list[_Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if line and not line.startswith("#"):
            rules.append(_Rule(line.replace("\\#", "#", 1)))
    return rules


def _ignored(rules: list[_Rule], rel: str, is_dir: bool) -> bool:
    ignored = False
    for rule in rules:
        if rule.matches(rel, is_dir):
            ignored = not rule.negate
    return ignored


def unikernel_name(config_ml: str) -> str | None:
    """NAME of `register "NAME"`, which is also the artifact's: dist/NAME.hvt."""
    match = REGISTER.search(_strip_comments(config_ml))
    return match.group(1) if match else None


def _strip_comments(text: str) -> str:
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("*)", i):
            depth, i = depth - 1, i + 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def collect(root: Path) -> Source:
    """Read a source directory, or say why it is not a MirageOS one."""
    if not root.is_dir():
        raise ConfigError(
            f"unikernel.source {root} is not a directory",
            "point it at the directory that holds config.ml",
        )
    config = root / "config.ml"
    if not config.is_file():
        raise ConfigError(
            f"{root} has no config.ml, so it is not a MirageOS unikernel",
            "point unikernel.source at the directory that holds config.ml",
        )
    name = unikernel_name(config.read_text(errors="replace"))
    if name is None:
        raise ConfigError(
            f'{config}: no `register "NAME"` call, so the artifact name is unknown',
            'a MirageOS 4 config.ml ends with: let () = register "NAME" [ main $ ... ]',
        )
    ignore = root / ".gitignore"
    rules = gitignore_rules(ignore.read_text(errors="replace")) if ignore.is_file() else []
    files: list[SourceFile] = []

    def walk(directory: Path, prefix: str) -> None:
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            rel = f"{prefix}{entry.name}"
            st = entry.lstat()
            is_dir = stat.S_ISDIR(st.st_mode)
            if (not prefix and entry.name in ALWAYS_EXCLUDED) or _ignored(rules, rel, is_dir):
                continue
            if is_dir:
                walk(entry, rel + "/")
            elif stat.S_ISREG(st.st_mode):
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                files.append(SourceFile(rel, mode, entry.read_bytes()))

    walk(root, "")
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.path}\0{f.mode:o}\0{len(f.data)}\0".encode())
        digest.update(f.data)
    return Source(root=root, name=name, files=tuple(files), sha256=digest.hexdigest())
