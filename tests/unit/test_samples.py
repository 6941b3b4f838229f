"""Metrics samples from what the lab target's sampling script printed (tests/data, captured one
second apart), and from texts a broken or hostile host could print instead."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from workbench.engine.metrics import events_of
from workbench.events import HostMetrics, UnikernelMetrics
from workbench.remote.sampling import SAMPLE_SCRIPT
from workbench.samples import THROTTLE_BITS, decode_throttled, parse_sample

DATA = Path(__file__).parents[1] / "data"
ONE = (DATA / "sample-target-1.txt").read_text()
TWO = (DATA / "sample-target-2.txt").read_text()


def test_a_sample_of_the_lab_target():
    s = parse_sample(ONE)
    assert s.now == 48022.71 and s.cpus == 2 and s.load == (0.27, 0.40, 0.49)
    (unit,) = s.units
    assert unit.owner.unikernel == "hello" and unit.state == "active/running"
    assert unit.cpu_usec == 143549 and unit.memory is None and unit.rss_kb == 11664
    # The bridge is in the record too (as "bridge"), but only the record's taps are its own.
    assert list(unit.taps) == ["tap100"]
    assert unit.taps["tap100"]["rx_bytes"] == 18806 and unit.taps["tap100"]["tx_dropped"] == 0
    assert unit.gaps == ("no memory cgroup for the unit: the tender's RSS instead",)


def test_rates_come_from_two_samples_of_the_same_run():
    first, second = parse_sample(ONE), parse_sample(TWO)
    host, uk = events_of("target", second, first)
    assert isinstance(host, HostMetrics) and isinstance(uk, UnikernelMetrics)
    f = uk.fields
    dt = second.now - first.now  # type: ignore[operator]
    used = (second.units[0].cpu_usec - first.units[0].cpu_usec) / 1e6  # type: ignore[operator]
    assert f["cpu_percent"] == round(used / dt * 100, 1)
    assert f["memory_bytes"] == second.units[0].rss_kb * 1024  # type: ignore[operator]
    tap = f["taps"]["tap100"]  # type: ignore[index]
    rx = second.units[0].taps["tap100"]["rx_bytes"] - first.units[0].taps["tap100"]["rx_bytes"]  # type: ignore[operator]
    assert tap["rx_bytes_per_s"] == round(rx / dt, 1)
    assert f["uptime_s"] == round(second.now - 47981824385 / 1e6, 1)  # type: ignore[operator]
    # The first sample has nothing to compare with: no rate, not a zero.
    _, alone = events_of("target", first, None)
    assert alone.fields["cpu_percent"] is None
    assert alone.fields["taps"]["tap100"]["rx_bytes_per_s"] is None  # type: ignore[index]


def test_a_restart_between_samples_gives_no_cpu_rate():
    first = parse_sample(ONE)
    restarted = parse_sample(TWO.replace("started_usec=47981824385", "started_usec=48023000000"))
    _, uk = events_of("target", restarted, first)
    assert uk.fields["cpu_percent"] is None


def test_counters_that_went_back_give_no_rate():
    first = parse_sample(TWO)
    recreated = parse_sample(ONE.replace("tap=tap100 18806", "tap=tap100 10"))
    _, uk = events_of("target", recreated, first)
    assert uk.fields["taps"]["tap100"]["rx_bytes_per_s"] is None  # type: ignore[index]


@pytest.mark.parametrize("bit, words", sorted(THROTTLE_BITS.items()))
def test_each_documented_throttling_bit_has_its_words(bit, words):
    assert decode_throttled(1 << bit) == [words]


def test_throttling_patterns_a_pi_reports():
    assert decode_throttled(0) == []
    # 0x50005: under-voltage and throttled now, and both since boot (an under-powered Pi 3B).
    assert decode_throttled(0x50005) == [
        "under-voltage now",
        "throttled now",
        "under-voltage since boot",
        "throttled since boot",
    ]
    assert decode_throttled(0x80000) == ["soft temperature limit since boot"]
    assert decode_throttled(1 << 5) == ["bit 5"]  # undocumented: named, not dropped
    s = parse_sample("now=1\nthrottled=throttled=0x50005\ntemp:cpu-thermal=61225\n")
    assert s.throttled == 0x50005 and s.temperatures == {"cpu-thermal": 61.225}
    assert parse_sample("throttled=VCHI initialization failed\n").throttled is None


def test_what_a_hostile_host_prints_is_kept_in_its_place():
    evil = ONE.replace("tap=br100 15502", "tap=eth0 1 2 3 4 5 6 7 8\ntap=br100 15502").replace(
        "state=active/running", "state=active/\x1b[2Jrunning"
    )
    # Host lines: a zone out of range, a zone name with escapes, and a second `now`.
    evil = evil.replace(
        "cpus=2\n",
        "cpus=2\ntemp:hot=99999999999999999999\ntemp:\x1b]0;pwn\x07zone=45000\nnow=1\n",
    )
    s = parse_sample(evil + "== unikernel-evil.service\nRecord=[[[[\n")
    (unit,) = s.units  # the block with no record is no unikernel
    assert list(unit.taps) == ["tap100"]  # eth0 is not in the record
    assert "\x1b" not in unit.state
    assert s.now == 48022.71  # the first `now` counts
    assert list(s.temperatures.values()) == [45.0]  # "hot" is out of range
    assert "\x1b" not in next(iter(s.temperatures))
    huge = parse_sample(ONE.replace("cpu_usec=143549", "cpu_usec=" + "9" * 40))
    assert huge.units[0].cpu_usec is None


@pytest.mark.skipif(not Path("/proc/loadavg").exists(), reason="needs Linux /proc")
def test_the_script_runs_on_a_host_without_unikernels():
    """This machine's sh, as a host's: the host part, and no unit when there are no records."""
    if any(Path("/etc/workbench/owners").glob("*.json")):
        pytest.skip("this machine has workbench owner records")
    out = subprocess.run(["sh", "-c", SAMPLE_SCRIPT, "x"], capture_output=True, text=True)
    s = parse_sample(out.stdout)
    assert out.returncode == 0 and s.units == ()
    assert s.now and s.cpus and s.mem_total_kb and len(s.load) == 3
