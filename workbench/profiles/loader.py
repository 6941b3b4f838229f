"""Find, read and validate profiles; turn every problem into `FILE:LINE: dotted.path: message`."""

from __future__ import annotations

import difflib
import os
import re
import stat
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from workbench.errors import ConfigError, ProfileError
from workbench.profiles import yamlpos
from workbench.profiles.crosschecks import cross_checks
from workbench.profiles.models import Profile, deploy_order

Loc = tuple[str | int, ...]

# Keys people reach for that must not be in a profile, with what to do instead.
_SECRET_KEYS = {
    "password": "secrets are not stored in profiles: use `identity_file` and/or `agent`",
    "passphrase": "secrets are not stored in profiles: name an env var in `passphrase_env`",
    "private_key": "secrets are not stored in profiles: point `identity_file` at the key file",
}


@dataclass(frozen=True)
class LoadedProfile:
    name: str
    path: Path
    profile: Profile
    several: bool = False  # one view of a profile with several unikernels

    def views(self, only: Sequence[str] = ()) -> list[LoadedProfile]:
        """One LoadedProfile per unikernel, `after:` ones first; `only` picks some by name."""
        every = self.profile.all_unikernels
        names = [uk.name for uk in every]
        unknown = [n for n in only if n not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"profile '{self.name}' has no unikernel named '{unknown[0]}'",
                hint + f"its unikernels: {', '.join(names)}",
            )
        several = len(every) > 1
        return [
            LoadedProfile(self.name, self.path, self.profile.view(uk), several)
            for uk in deploy_order(every)
            if not only or uk.name in only
        ]

    @property
    def label(self) -> str:
        """How front ends name it: the profile, or PROFILE/UNIKERNEL for one of several."""
        return f"{self.name}/{self.profile.unikernel.name}" if self.several else self.name


def search_dirs(cwd: Path | None = None) -> list[Path]:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [(cwd or Path.cwd()) / "profiles", Path(config_home) / "workbench" / "profiles"]


def find(name_or_path: str, cwd: Path | None = None) -> Path:
    """`./profiles/NAME.yaml`, then `$XDG_CONFIG_HOME/workbench/profiles/NAME.yaml`; or a path."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if candidate.is_file():
            return candidate
        raise ConfigError(f"profile file {candidate} does not exist", "check the path")
    tried = []
    for folder in search_dirs(cwd):
        for suffix in (".yaml", ".yml"):
            path = folder / f"{name_or_path}{suffix}"
            tried.append(str(path))
            if path.is_file():
                return path
    known = sorted({p.stem for folder in search_dirs(cwd) for p in _profile_files(folder)})
    close = difflib.get_close_matches(name_or_path, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    hint += f"known profiles: {', '.join(known)}" if known else "no profiles found"
    raise ConfigError(f"no profile named '{name_or_path}' (looked in {', '.join(tried)})", hint)


def _profile_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    files = (p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return sorted(files, key=lambda p: p.stem)  # by profile name: "lab" before "lab-pi"


def discover(cwd: Path | None = None) -> list[Path]:
    """All profile files, first occurrence of each name winning (same order as `find`)."""
    seen: dict[str, Path] = {}
    for folder in search_dirs(cwd):
        for path in _profile_files(folder):
            seen.setdefault(path.stem, path)
    return list(seen.values())


def load(name_or_path: str, cwd: Path | None = None) -> LoadedProfile:
    path = find(name_or_path, cwd)
    return load_file(path)


MAX_PROFILE_BYTES = 1 << 20
PROFILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def load_file(path: Path) -> LoadedProfile:
    shown = _display_path(path)
    if not PROFILE_NAME.fullmatch(path.stem):
        raise ProfileError(
            shown,
            [f"{shown}:1: (file name): a profile's name is letters, digits, '_', '.', '-'"],
            hint="rename the file: its name goes into the files deploy writes on the hosts",
        )
    try:
        # Checked before opening: opening a FIFO would block until someone writes to it.
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"{shown} is not a regular file", "a profile is a YAML file")
        with path.open("rb") as fh:
            raw = fh.read(MAX_PROFILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read profile {shown}: {exc.strerror}") from exc
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileError(
            shown, [f"{shown}:1: (file): larger than 1 MiB; a profile is a few hundred bytes"]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc.reason})") from exc
    try:
        located = yamlpos.load(text)
    except yamlpos.YamlSyntaxError as exc:
        raise ProfileError(shown, [f"{shown}:{exc.line}: YAML syntax: {exc.message}"]) from None

    problems = [(line, _dotted(loc), msg) for line, loc, msg in located.problems]
    if not isinstance(located.data, dict):
        problems.append(
            (1, "(top)", "a profile is a mapping of keys such as hosts, targets, unikernel")
        )
        raise ProfileError(shown, _format(shown, problems))

    data = _resolve_local_paths(located.data, path.parent)
    profile: Profile | None = None
    for loc, msg in cross_checks(located.data):
        problems.append((located.line_of(loc), _dotted(loc), msg))
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        reported: set[Loc] = set()
        for err in exc.errors(include_url=False):
            loc = _data_loc(err["loc"], located.data, missing=err["type"] == "missing")
            if err["type"] == "union_tag_invalid" and isinstance(located.data, dict):
                loc = (*loc, "kind")
            if loc in reported:
                continue  # one message per value: a union reports each member's failure
            reported.add(loc)
            problems.append((located.line_of(loc), _dotted(loc), _message(err, loc)))
    if problems:
        raise ProfileError(shown, _format(shown, problems), hint=_hint_for(problems))
    assert profile is not None
    return LoadedProfile(name=path.stem, path=path, profile=profile)


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _format(shown: str, problems: list[tuple[int, str, str]]) -> list[str]:
    return [f"{shown}:{line}: {dotted}: {msg}" for line, dotted, msg in sorted(problems)]


def _hint_for(problems: list[tuple[int, str, str]]) -> str:
    return "fix the lines above; `workbench profiles show NAME` prints the resolved values"


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


def _data_loc(loc: tuple[str | int, ...], data: object, missing: bool) -> Loc:
    """Map pydantic's loc onto the YAML data: drop union tags and validator steps.

    A `missing` error names a key that is not in the data; it is kept so the message can say
    which key to add (its line is the parent's).
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        found, child = _child(node, part)
        if found:
            out.append(part)
            node = child
        elif missing and i == len(loc) - 1 and isinstance(part, str):
            out.append(part)
        # else: a discriminated-union tag ('tcp'), a union member or '[key]': not in the data
    return tuple(out)


def _child(node: object, part: str | int) -> tuple[bool, object]:
    if isinstance(node, dict) and part in node:
        return True, node[part]
    if isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
        return True, node[part]
    return False, None


def _message(err: ErrorDetails, loc: Loc) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        if key in _SECRET_KEYS:
            return f"unknown key: {_SECRET_KEYS[key]}"
        fields = _fields_at(loc[:-1])
        close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
        if close:
            return f"unknown key; did you mean '{close[0]}'?"
        return f"unknown key (allowed: {', '.join(fields)})" if fields else "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"unknown kind {ctx.get('tag')!r}; use one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return "needs `kind:` (tcp, http, ping or log)"
    message = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if kind == "string_pattern_mismatch":
        message = f"{err['input']!r} has characters that are not allowed here"
    elif kind == "literal_error":
        message = f"{err['input']!r} is not one of {err['ctx']['expected']}"
    return message


def _fields_at(loc: Loc) -> list[str]:
    """Field names of the model found at `loc`, for close-match suggestions."""
    model: object = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        fields = _model_fields(model)
        # A key that is not a field walks into a dict's values (hosts.NAME, networks.DEVICE).
        model = fields[part] if part in fields else _dict_value_type(model)
    return sorted(_model_fields(model))


def _model_fields(model: object) -> dict[str, object]:
    candidates = _unwrap(model)
    out: dict[str, object] = {}
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            for fname, info in cand.model_fields.items():
                out[info.alias or fname] = info.annotation
    return out


def _dict_value_type(model: object) -> object:
    for cand in _unwrap(model):
        if typing.get_origin(cand) is dict:
            return typing.get_args(cand)[1]
    return None


def _unwrap(tp: object) -> list[object]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin is tuple:  # tuple[Model, ...]: a list in the YAML
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[object] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    return [tp]


def _resolve_local_paths(data: dict[str, object], base: Path) -> dict[str, object]:
    """Local paths in a profile are relative to the profile file, with `~` expanded."""
    out = dict(data)
    one, several = out.get("unikernel"), out.get("unikernels")
    if isinstance(one, dict):
        out["unikernel"] = _local_unikernel(one, base)
    if isinstance(several, list):
        out["unikernels"] = [
            _local_unikernel(uk, base) if isinstance(uk, dict) else uk for uk in several
        ]
    hosts = out.get("hosts")
    if isinstance(hosts, dict):
        new_hosts: dict[object, object] = {}
        for name, host in hosts.items():
            if isinstance(host, dict):
                host = dict(host)
                for key in ("identity_file", "known_hosts"):
                    if isinstance(host.get(key), str):
                        host[key] = str(_local(host[key], base))
            new_hosts[name] = host
        out["hosts"] = new_hosts
    return out


def _local_unikernel(uk: dict[str, object], base: Path) -> dict[str, object]:
    uk = dict(uk)
    for key in ("source", "artifact", "tender"):
        value = uk.get(key)
        if isinstance(value, str):
            uk[key] = str(_local(value, base))
    raw = uk.get("qemu")
    if isinstance(raw, dict):  # runtime qemu: its disk and kernel are local files
        qemu: dict[str, object] = dict(raw)
        for key in ("disk", "kernel"):
            value = qemu.get(key)
            if isinstance(value, str):
                qemu[key] = str(_local(value, base))
        uk["qemu"] = qemu
    return uk


def _local(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()
