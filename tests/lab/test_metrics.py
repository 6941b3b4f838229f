"""`workbench metrics`, `--serve` and `top` against a unikernel on the lab target: its tap's
counters and rates move with traffic sent through the bridge, a crash shows in restarts and
uptime, the Prometheus page parses and its counters only go up, and `top` draws in a pty."""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.lab.deploykit import HEALTHY, artifact, cli, deploy, json_events, on_target, remove
from tests.lab.deploykit import variant as make_variant
from tests.lab.deploykit import workbench as wb

pytestmark = pytest.mark.lab


@pytest.fixture
def v(lab, tmp_path):
    var = make_variant(tmp_path, 101)  # a number no other lab test uses
    remove(var)
    yield var
    remove(var)


def samples(v, *extra: str) -> list[dict]:
    result = wb("metrics", "--profile", str(v.path), "--json", *extra, timeout=120)
    assert result.returncode == 0, result.stderr
    return [
        e["fields"]
        for e in json_events(result.stdout)
        if e["event"] == "unikernel_metrics" and e["unikernel"] == v.name
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_follow_traffic_crashes_and_scrapes(v, tmp_path):
    code, _events, err = deploy(v, artifact(tmp_path, "app", HEALTHY))
    assert code == 0, err
    address = f"10.0.{v.net}.2"

    # Traffic through the bridge while sampling: the tap's counters and rates move.
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", "wblab-target", "ping", "-q", "-i", "0.05", "-w", "6", address],
        stdout=subprocess.DEVNULL,
    )
    try:
        got = samples(v, "--count", "3", "--interval", "1")
    finally:
        pinger.wait(20)
    assert len(got) == 3
    tap = got[-1]["taps"][v.tap]
    assert tap["rx_bytes"] > got[0]["taps"][v.tap]["rx_bytes"]
    assert tap["rx_bytes_per_s"] > 0 and tap["tx_bytes_per_s"] > 0, tap
    assert tap["rx_packets"] > 0 and tap["rx_errors"] == 0
    last = got[-1]
    assert last["state"] == "active/running" and last["restarts"] == 0
    assert last["cpu_seconds"] > 0 and last["cpu_percent"] is not None and last["memory_bytes"] > 0

    # A crash: systemd restarts it, and the sample says so.
    on_target(f"systemctl kill -s KILL {v.unit}")
    for _ in range(100):
        state = on_target(f"systemctl show -P NRestarts -P ActiveState {v.unit}").stdout.split()
        if state == ["1", "active"] or state == ["active", "1"]:
            break
        time.sleep(0.1)
    (after,) = samples(v, "--count", "1")
    assert after["restarts"] == 1 and after["uptime_s"] < last["uptime_s"], (after, last)

    # The Prometheus page, scraped twice: names and labels; counters never go down.
    port = free_port()
    server = subprocess.Popen(
        cli("metrics", "--profile", str(v.path), "--interval", "0.5", "--serve",
            f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        pages = [scrape(port, v.name), None]
        time.sleep(1.2)
        pages[1] = scrape(port, v.name)
    finally:
        server.terminate()
        server.wait(10)
    first, second = pages
    assert second is not None
    labels = {"host": "target", "profile": v.name, "unikernel": v.name}
    assert first[("workbench_unikernel_up", tuple(sorted(labels.items())))] == 1.0
    for key, value in first.items():
        if key[0].endswith("_total"):
            assert second[key] >= value, key
    tap_key = ("workbench_tap_receive_bytes_total", tuple(sorted({**labels, "tap": v.tap}.items())))
    assert first[tap_key] > 0

    # `top` in a terminal: drawn in place, with the unikernel's row.
    screen = top_screen(v)
    assert "\x1b[H\x1b[2J" in screen and "UNIKERNEL" in screen
    assert any(line.split()[:2] == ["target", v.name] for line in screen.splitlines()), screen


def scrape(port: int, name: str) -> dict[tuple[str, tuple], float]:
    """Every sample of the page as (name, labels) -> value, once the unikernel is on it."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            text = ""
        page = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text)
            for s in f.samples
        }
        if any(dict(k[1]).get("unikernel") == name for k in page):
            return page
        assert time.monotonic() < deadline, text or "nothing served"
        time.sleep(0.3)


def top_screen(v) -> str:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        cli("top", "--profile", str(v.path), "--interval", "0.5", "--count", "2"),
        stdin=child, stdout=child, stderr=child, close_fds=True,
    )  # fmt: skip
    os.close(child)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.kill()
        proc.wait(10)
        os.close(main)
    return out.decode(errors="replace")
