"""Every benchmark, on the lab, into docs/BENCHMARKS.md (and the raw numbers into
docs/benchmarks.json). `make bench` runs this.

    .venv/bin/python bench/run.py [--runs N] [--only redeploy,upload,logs,fleet,startup]

It brings the lab up with a fleet of 32 targets, installs the peers (pyinfra, ansible-core)
into .venv-bench from PyPI, and reports medians and spreads of repeated runs with each peer's
ratio measured in the same run. Benchmarks report; the test suite never asserts times."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import goals
import labbench
from labbench import ROOT, machine

SECTIONS = ("startup", "redeploy", "upload", "logs", "fleet", "metrics")
FLEET = 32


def cell(s: dict[str, float], scale: float = 1.0, unit: str = "s", digits: int = 2) -> str:
    return (
        f"{s['median'] * scale:.{digits}f} {unit} "
        f"({s['min'] * scale:.{digits}f}-{s['max'] * scale:.{digits}f})"
    )


def ratio(peer: dict[str, float], ours: dict[str, float]) -> str:
    return f"{peer['median'] / ours['median']:.2f}x"


def _startup_section(r: dict, out: list[str], losses: list[str]) -> None:
    s = r["startup"]
    out += ["", "## Start-up", "", "| what | result |", "| --- | --- |"]
    for label, values in s["commands"].items():
        out.append(f"| `{label}` | {cell(labbench.summary(values), 1000, 'ms', 0)} |")
    out.append(
        f"| TUI first paint (`workbench ui --profile lab` in a 120x36 pty, process "
        f"start to dashboard on screen) | {cell(labbench.summary(s['first_paint']))} |"
    )
    profile = ", ".join(
        f"{k} {v * 1000:.0f} ms" for k, v in s.get("deploy_imports_by_package_s", {}).items()
    )
    if profile:
        imports = labbench.summary(s["deploy_imports_s"])
        out.append(f"| imports on `deploy`'s path | {cell(imports)}; by package: {profile} |")
    out.append(
        f"| `workbench.bootlog` classifier | {statistics.median(s['bootlog']):,.0f} "
        f"lines/s ({min(s['bootlog']):,.0f}-{max(s['bootlog']):,.0f}) |"
    )


def _redeploy_section(r: dict, out: list[str], losses: list[str]) -> None:
    d = r["redeploy"]
    out += [
        "",
        "## Redeploy to the lab target",
        "",
        "Same job for every tool: upload the artifact and the tender, template the unit, "
        "daemon-reload, restart only on change. Whole command, start to exit. "
        "workbench also runs preflight, keeps a verified release directory, switches "
        "atomically, and after a restart follows the boot and waits for the HTTP health "
        "check; the peers stop at `systemctl restart`.",
        "",
        "| case | workbench | pyinfra | ansible-core |",
        "| --- | --- | --- | --- |",
    ]
    for case, label in (("noop", "nothing changed"), ("new", "new artifact")):
        ours = d["workbench"][case]
        row = [label, cell(ours)]
        for peer in ("pyinfra", "ansible"):
            row.append(f"{cell(d[peer][case])}, {ratio(d[peer][case], ours)}")
            if d[peer][case]["median"] < ours["median"]:
                losses.append(
                    f"redeploy, {label}: {peer} {d[peer][case]['median']:.2f} s vs "
                    f"workbench {ours['median']:.2f} s"
                )
        out.append("| " + " | ".join(row) + " |")


def _upload_section(r: dict, out: list[str], losses: list[str]) -> None:
    u = r["upload"]
    out += [
        "",
        "## Artifact upload",
        "",
        "workbench: what deploy's upload step does, as its own process (hash, SFTP into "
        "a staging directory, sha256 verified on the host, rename). scp and sftp: "
        "OpenSSH's clients, the same key and host. Every command includes its SSH "
        "connect.",
        "",
        "| case | workbench | scp | sftp | workbench, already there (hash-skip) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case, tools in u.items():
        ours = tools["workbench"]
        row = [case, cell(ours)]
        for peer in ("scp", "sftp"):
            row.append(f"{cell(tools[peer])}, {ratio(tools[peer], ours)}")
            if tools[peer]["median"] < ours["median"]:
                losses.append(
                    f"upload {case}: {peer} {tools[peer]['median']:.2f} s vs "
                    f"workbench {ours['median']:.2f} s"
                )
        row.append(cell(tools["workbench (already there)"]))
        out.append("| " + " | ".join(row) + " |")


def _logs_section(r: dict, out: list[str], losses: list[str]) -> None:
    lg = r["logs"]
    out += [
        "",
        "## Log path",
        "",
        "A unit's process on the target writes lines to stdout (journald), as a "
        "unikernel's console is written; the lab target shares this machine's clock, so "
        "latency is receive time minus the time stamped in the line.",
        "",
        "| reader | latency median | p95 | max | lines |",
        "| --- | --- | --- | --- | --- |",
    ]
    for reader, lat in lg["latency"].items():
        out.append(
            f"| {reader} | {lat['median_ms']:.1f} ms | {lat['p95_ms']:.1f} ms | "
            f"{lat['max_ms']:.1f} ms | {lat['n']} |"
        )
    wb_lat, raw_lat = lg["latency"]["workbench"], lg["latency"]["ssh journalctl -f"]
    if wb_lat["median_ms"] > raw_lat["median_ms"]:
        losses.append(
            f"log latency: workbench {wb_lat['median_ms']:.1f} ms vs raw ssh "
            f"journalctl {raw_lat['median_ms']:.1f} ms median"
        )
    out += [
        "",
        "20,000 lines/s for 10 s, one reader at a time:",
        "",
        "| reader | received | ended behind the writer by | CPU | peak RSS | latency median |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for reader, f in lg["flood"].items():
        out.append(
            f"| {reader} | {f['received']:,} of {f['expected']:,.0f} | "
            f"{f['behind_s']:.2f} s | {f['cpu_share']:.0%} of a core | "
            f"{f['peak_rss_kib'] / 1024:.0f} MiB | {f['latency_median_ms']:.0f} ms |"
        )
    wb_f, raw_f = lg["flood"]["workbench"], lg["flood"]["ssh journalctl -f"]
    if wb_f["behind_s"] > raw_f["behind_s"] + 0.5 or wb_f["received"] < raw_f["received"]:
        losses.append(
            f"20,000 lines/s: workbench received {wb_f['received']:,} lines and ended "
            f"{wb_f['behind_s']:.1f} s behind the writer, at {wb_f['cpu_share']:.0%} of a "
            f"core; raw ssh journalctl ({raw_f['received']:,}, "
            f"{raw_f['behind_s']:.1f} s behind) does no work per line"
        )
    t = lg["tui"]
    out += [
        "",
        f"The TUI following that flood over SSH (logs screen): a key press (`f`, the "
        f"filter picker; `l` cycled the level filter before 2026-11-27) to the picker "
        f"painted, read back from the pty, median "
        f"{t['median_ms']:.0f} ms, max {t['max_ms']:.0f} ms ({t['n']} presses); peak "
        f"RSS {t['peak_rss_kib'] / 1024:.0f} MiB.",
    ]


def _fleet_section(r: dict, out: list[str], losses: list[str]) -> None:
    f = r["fleet"]
    out += [
        "",
        "## Fleet",
        "",
        f"New artifact to N of {FLEET} lab targets (systemd-nspawn, one namespace each, "
        "on this 2-core machine) with `--parallel N`; every host restarts, is followed "
        "through its boot and health-checked.",
        "",
        "| hosts | total | per host | each host beyond the first |",
        "| --- | --- | --- | --- |",
    ]
    for n, e in f.items():
        if n == "peers":
            continue
        extra = f"{e['each_extra_host']:.2f} s" if "each_extra_host" in e else "-"
        out.append(f"| {n} | {cell(e)} | {e['per_host']:.2f} s | {extra} |")
    out += [
        "",
        "The peers doing the redeploy job (no boot follow, no health check) on the "
        "same hosts, as parallel (`pyinfra --parallel N`, `ansible-playbook -f N`):",
        "",
        "| hosts | workbench | pyinfra | ansible-core |",
        "| --- | --- | --- | --- |",
    ]
    for n, _tools in sorted(
        f.get("peers", {}).get("pyinfra", {}).items(), key=lambda kv: int(kv[0])
    ):
        ours = f[n]
        row = [n, cell(ours)]
        for tool in ("pyinfra", "ansible"):
            theirs = f["peers"][tool][n]
            row.append(f"{cell(theirs)}, {ratio(theirs, ours)}")
            if theirs["median"] < ours["median"]:
                losses.append(
                    f"fleet of {n}: {tool} {theirs['median']:.2f} s vs workbench "
                    f"{ours['median']:.2f} s"
                )
        out.append("| " + " | ".join(row) + " |")


def _metrics_section(r: dict, out: list[str], losses: list[str]) -> None:
    out += [
        "",
        "## Metrics sampling",
        "",
        "What one `workbench metrics` sample costs a host: the sampling script's CPU on "
        "the host (children's user + system time, getrusage, over many runs), its run "
        "time there, and one sample's round trip over an open SSH connection next to "
        "`true` over the same connection (the floor of any remote command).",
        "",
        "| host | unikernels | host CPU per sample | share of a core at the default 5 s "
        "| run time on the host | round trip | `true` round trip | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for host, m in r["metrics"].items():
        out.append(
            f"| {host} | {m['unikernels']} | {m['host_cpu_ms']:.1f} ms | "
            f"{m['host_cpu_ms'] / 5000:.2%} | "
            f"{m['host_wall_ms']:.1f} ms | {m['sample_ms']:.1f} ms | {m['true_ms']:.1f} ms "
            f"| {m['sample_ms'] / m['true_ms']:.2f}x |"
        )
    out += [
        "",
        "The arm64 VM is emulated (QEMU TCG on this x86 machine, every instruction "
        "translated), so its figures are an upper bound, many times a real Pi 3B's; they "
        "show the script runs there, not what it costs a Pi.",
    ]


def write(results: dict[str, object], meta: dict[str, str], runs: int) -> Path:
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`bench/run.py`) on {meta['date']}; {runs} runs per case "
        "unless noted. Cells: median (min-max). Ratios are the peer's median over "
        "workbench's, measured in the same run: above 1 means workbench was faster. "
        "Raw numbers: `docs/benchmarks.json`.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- {k}: {v}" for k, v in meta.items() if k not in ("date", "measured")]
    measured = meta.get("measured")
    if isinstance(measured, dict):
        out += ["", "Sections measured at different times (machine above: the latest run):", ""]
        out += [f"- {name}: {when}" for name, when in measured.items()]
    losses: list[str] = []
    r = results
    judged = goals.judge(r)
    out += [
        "",
        "## Goals",
        "",
        "Issue 17's goals, judged from the numbers below. " + goals.NOTE,
        "",
    ]
    measured_on = meta.get("measured")
    when = measured_on if isinstance(measured_on, dict) else {}
    out += goals.table(judged, {name: when.get(name, meta["date"]) for name in SECTIONS})
    if why := goals.reasons(judged):
        out += ["", "Why short:", "", *why]
    if "startup" in r:
        _startup_section(r, out, losses)
    if "redeploy" in r:
        _redeploy_section(r, out, losses)
    if "upload" in r:
        _upload_section(r, out, losses)
    if "logs" in r:
        _logs_section(r, out, losses)
    if "fleet" in r:
        _fleet_section(r, out, losses)
    if "metrics" in r:
        _metrics_section(r, out, losses)
    out += ["", "## Where workbench loses", ""]
    out += [f"- {line}" for line in losses] or ["- nowhere in this run."]
    why = {
        "redeploy": any(line.startswith("redeploy") for line in losses),
        "upload": any(line.startswith("upload") for line in losses),
        "flood": any(line.startswith("20,000") for line in losses),
        "fleet": any(line.startswith("fleet") for line in losses),
    }
    out += ["", "Why:", ""] if any(why.values()) else []
    out += [f"- {name}: {goals.LOSS_WHY[name]}" for name, lost in why.items() if lost]
    path = ROOT / "docs" / "BENCHMARKS.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    (ROOT / "docs" / "benchmarks.json").write_text(
        json.dumps(
            {"meta": meta, "runs": runs, "results": results, "goals": goals.as_json(judged)},
            indent=1,
        )
        + "\n"
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the page from docs/benchmarks.json"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    wanted = [s for s in args.only.split(",") if s]
    os.chdir(ROOT)
    if args.render:
        saved = json.loads((ROOT / "docs" / "benchmarks.json").read_text())
        print(f"wrote {write(saved['results'], saved['meta'], saved.get('runs', args.runs))}")
        return
    # Byte-compiled first, as pip does when it installs the wheel: a checkout run with
    # PYTHONDONTWRITEBYTECODE would otherwise compile workbench's modules on every start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "workbench"], check=True)
    from workbench.lab import manager

    print("lab up" + (f" with a fleet of {FLEET}" if "fleet" in wanted else ""), flush=True)
    manager.up(lambda m: print(f"  {m}", flush=True), fleet_size=FLEET if "fleet" in wanted else 0)
    labbench.ensure_peers()
    results: dict[str, object] = {}
    for section in wanted:
        print(f"{section}...", flush=True)
        start = time.monotonic()
        if section == "startup":
            import bench_bootlog
            import bench_startup
            import bench_tui

            imports, import_profile = bench_startup.deploy_imports(args.runs)
            results[section] = {
                "commands": {label: bench_startup.timed(cmd) for label, cmd in bench_startup.CASES},
                "deploy_imports_s": imports,
                "deploy_imports_by_package_s": import_profile,
                "first_paint": bench_tui.first_paint(args.runs),
                "bootlog": bench_bootlog.measure(args.runs),
            }
        elif section == "redeploy":
            import bench_redeploy

            results[section] = bench_redeploy.main(args.runs)
        elif section == "upload":
            import bench_upload

            results[section] = bench_upload.main(args.runs)
        elif section == "logs":
            import bench_logpath

            results[section] = bench_logpath.main()
        elif section == "fleet":
            import bench_fleet

            results[section] = bench_fleet.main(runs=max(2, args.runs // 2))
        elif section == "metrics":
            import bench_metrics

            results[section] = bench_metrics.main(args.runs)
        else:
            raise SystemExit(f"unknown section {section}; sections: {', '.join(SECTIONS)}")
        print(f"  {time.monotonic() - start:.0f} s", flush=True)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = {"date": now, **machine()}
    saved_path = ROOT / "docs" / "benchmarks.json"
    if set(wanted) != set(SECTIONS) and saved_path.exists():
        # Some sections only: the others stay as last measured, and the page says when.
        saved = json.loads(saved_path.read_text())
        when = {s: saved["meta"].get("date", "?") for s in saved["results"]}
        when.update(saved["meta"].get("measured", {}))
        results = {**saved["results"], **results}
        meta["measured"] = {**when, **{s: now for s in wanted}}  # type: ignore[dict-item]
    print(f"wrote {write(results, meta, args.runs)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
