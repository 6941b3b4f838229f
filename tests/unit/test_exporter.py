"""The Prometheus page of `metrics --serve`, from the lab target's captured samples, read back
with prometheus_client's own parser: names, labels, types, and counters that only go up."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.test_samples import ONE, TWO
from workbench.engine.metrics import events_of
from workbench.events import HostMetrics
from workbench.exporter import Latest, registry
from workbench.samples import parse_sample


def scrape(latest: Latest) -> dict[str, tuple[str, list]]:
    text = generate_latest(registry(latest)).decode()
    return {
        f.name: (f.type, [(s.name, s.labels, s.value) for s in f.samples])
        for f in text_string_to_metric_families(text)
    }


def fed(*texts: str) -> list[dict[str, tuple[str, list]]]:
    latest, prev, pages = Latest(), None, []
    for text in texts:
        cur = parse_sample(text)
        for event in events_of("target", cur, prev):
            latest.add(event)
        pages.append(scrape(latest))
        prev = cur
    return pages


def test_names_labels_and_types():
    (page,) = fed(ONE)
    uk = {"host": "target", "profile": "lab", "unikernel": "hello"}
    assert page["workbench_unikernel_cpu_seconds"] == (
        "counter",
        [("workbench_unikernel_cpu_seconds_total", uk, 0.143549)],
    )
    assert page["workbench_unikernel_up"] == ("gauge", [("workbench_unikernel_up", uk, 1.0)])
    assert page["workbench_unikernel_memory_bytes"][1] == [
        ("workbench_unikernel_memory_bytes", uk, 11664 * 1024)
    ]
    rx = page["workbench_tap_receive_bytes"]
    assert rx == (
        "counter",
        [("workbench_tap_receive_bytes_total", {**uk, "tap": "tap100"}, 18806)],
    )
    assert page["workbench_host_load1"][1] == [("workbench_host_load1", {"host": "target"}, 0.27)]
    assert page["workbench_host_sample_ok"][1][0][2] == 1.0
    # No Pi here: no throttling series rather than a row of zeros that claims to know.
    assert page["workbench_host_throttled"][1] == []


def test_counters_do_not_go_down_across_scrapes():
    first, second = fed(ONE, TWO)
    for name, (kind, samples) in first.items():
        if kind != "counter":
            continue
        before = {tuple(sorted(s[1].items())): s[2] for s in samples if s[0].endswith("_total")}
        after = {
            tuple(sorted(s[1].items())): s[2] for s in second[name][1] if s[0].endswith("_total")
        }
        assert before and all(after[k] >= v for k, v in before.items()), name


def test_a_host_that_did_not_answer_says_so_and_keeps_no_stale_unikernels():
    latest = Latest()
    for event in events_of("target", parse_sample(ONE), None):
        latest.add(event)
    gap = {"unikernels": 0, "gaps": ["not connected"]}
    latest.add(HostMetrics(host="target", step="metrics", fields=gap))
    page = scrape(latest)
    assert page["workbench_host_sample_ok"][1] == [
        ("workbench_host_sample_ok", {"host": "target"}, 0.0)
    ]
    assert page["workbench_unikernel_up"][1] == []


def test_throttling_is_one_series_per_condition():
    text = ONE.replace("cpus=2\n", "cpus=2\nthrottled=throttled=0x50005\n")
    (page,) = fed(text)
    flags = {s[1]["condition"]: s[2] for s in page["workbench_host_throttled"][1]}
    assert flags["under-voltage now"] == 1.0 and flags["throttled since boot"] == 1.0
    assert flags["ARM frequency capped now"] == 0.0 and len(flags) == 8


def test_a_scrape_never_sees_half_a_sample():
    latest = Latest()
    first = events_of("target", parse_sample(ONE), None)
    for event in first:
        latest.add(event)
    second = events_of("target", parse_sample(TWO), parse_sample(ONE))
    latest.add(second[0])  # the host's event of the next sample, its unikernel's not yet
    assert latest.snapshot()["target"] == first
    latest.add(second[1])
    assert latest.snapshot()["target"] == second
