"""`workbench profiles` and `workbench profiles show NAME`."""

from __future__ import annotations

import argparse

import yaml

from workbench import profiles
from workbench.errors import ProfileError
from workbench.headless import Output


def run(args: argparse.Namespace, out: Output) -> int:
    if args.profiles_command == "show":
        return _show(args.name, out)
    return _list(out)


def _list(out: Output) -> int:
    rows: list[dict[str, object]] = []
    for path in profiles.discover():
        try:
            loaded = profiles.load_file(path)
        except ProfileError as exc:
            rows.append(
                {"name": path.stem, "path": str(path), "valid": False, "problems": exc.problems}
            )
            continue
        p = loaded.profile
        rows.append(
            {
                "name": loaded.name,
                "path": str(path),
                "valid": True,
                "description": p.description,
                "targets": [f"{t} ({p.hosts[t].address})" for t in p.targets],
                "unikernel": ", ".join(uk.name for uk in p.all_unikernels),
                "network": p.network.mode,
            }
        )
    if out.json:
        out.data(rows)
        return 0
    if not rows:
        out.diag(
            "no profiles found (looked in: "
            + ", ".join(str(d) for d in profiles.loader.search_dirs())
            + ")"
        )
        return 0
    width = max(len(str(r["name"])) for r in rows)
    for r in rows:
        if r["valid"]:
            targets = ", ".join(r["targets"])  # type: ignore[arg-type]
            out.line(
                f"{r['name']:<{width}}  {r['unikernel']} -> {targets}  [{r['network']}]"
                f"  {r['description']}"
            )
        else:
            count = len(r["problems"])  # type: ignore[arg-type]
            out.line(
                f"{r['name']:<{width}}  INVALID: {count} problem(s); "
                f"see `workbench profiles show {r['name']}`"
            )
    return 0


def _show(name: str, out: Output) -> int:
    loaded = profiles.load(name)
    p = loaded.profile
    data = p.model_dump(mode="json", by_alias=True)
    data.pop("unikernels" if p.one is not None else "unikernel")
    views = [v.profile for v in loaded.views()]
    each = {
        v.unikernel.name: {
            "unit": v.unit_name,
            "release_dir": v.release_dir,
            "after": list(v.after_units),
        }
        for v in views
    }
    data["resolved"] = {
        "file": str(loaded.path),
        **(each[p.unikernel.name] if p.one is not None else {"unikernels": each}),
        "deploy_order": [v.unikernel.name for v in views],
        "tender": p.tender_name,
        "build_host": p.build_host,
        "sudo": {n: h.use_sudo for n, h in p.hosts.items()},
    }
    if out.json:
        out.data(data)
    else:
        out.line(f"# {loaded.path} (defaults resolved)")
        out.line(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    return 0
