"""`workbench metrics --serve ADDR:PORT`: the latest sample of every host in Prometheus' text
format (prometheus_client), labelled host, profile, unikernel (and tap, zone, condition).

The HTTP server runs in prometheus_client's thread and reads `Latest`, which the sampling loop
replaces whole per host, so a scrape sees one sample of a host, never half of two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from workbench.events import Event, HostMetrics, UnikernelMetrics
from workbench.samples import THROTTLE_BITS

UK = ["host", "profile", "unikernel"]
TAP_COUNTERS = {  # sample key -> metric name (Prometheus' receive/transmit words)
    "rx_bytes": "workbench_tap_receive_bytes_total",
    "tx_bytes": "workbench_tap_transmit_bytes_total",
    "rx_packets": "workbench_tap_receive_packets_total",
    "tx_packets": "workbench_tap_transmit_packets_total",
    "rx_errors": "workbench_tap_receive_errors_total",
    "tx_errors": "workbench_tap_transmit_errors_total",
    "rx_dropped": "workbench_tap_receive_dropped_total",
    "tx_dropped": "workbench_tap_transmit_dropped_total",
}


class Latest:
    """The newest sample of each host: its events, swapped in whole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hosts: dict[str, list[Event]] = {}
        self._pending: dict[str, list[Event]] = {}

    def add(self, event: Event) -> None:
        """Feed a host's events in order: its HostMetrics says how many unikernel events follow,
        and the sample is published once they all came."""
        if isinstance(event, HostMetrics):
            self._pending[event.host] = [event]
        elif event.host in self._pending:
            self._pending[event.host].append(event)
        else:
            return  # a unikernel event without its host's: not a sample
        events = self._pending[event.host]
        wanted = events[0].fields.get("unikernels") if isinstance(events[0], HostMetrics) else 0
        if len(events) >= 1 + (wanted if isinstance(wanted, int) else 0):
            with self._lock:
                self._hosts[event.host] = self._pending.pop(event.host)

    def snapshot(self) -> dict[str, list[Event]]:
        with self._lock:
            return dict(self._hosts)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class WorkbenchCollector(Collector):
    def __init__(self, latest: Latest) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        g = {
            name: GaugeMetricFamily(name, doc, labels=labels)
            for name, doc, labels in (
                ("workbench_host_sample_ok", "1 when the last sample of the host came", ["host"]),
                ("workbench_host_load1", "load average over 1 minute", ["host"]),
                ("workbench_host_load5", "load average over 5 minutes", ["host"]),
                ("workbench_host_load15", "load average over 15 minutes", ["host"]),
                ("workbench_host_memory_total_bytes", "MemTotal", ["host"]),
                ("workbench_host_memory_available_bytes", "MemAvailable", ["host"]),
                ("workbench_host_temperature_celsius", "thermal zone", ["host", "zone"]),
                (
                    "workbench_host_throttled",
                    "Raspberry Pi get_throttled, 1 per condition that holds",
                    ["host", "condition"],
                ),
                ("workbench_unikernel_up", "1 when the unit is active", UK),
                ("workbench_unikernel_memory_bytes", "the unit's cgroup memory (or RSS)", UK),
                ("workbench_unikernel_memory_peak_bytes", "the unit's cgroup peak memory", UK),
                ("workbench_unikernel_uptime_seconds", "since the unit's process started", UK),
            )
        }
        c = {
            name: CounterMetricFamily(name, doc, labels=labels)
            for name, doc, labels in (
                ("workbench_unikernel_cpu_seconds_total", "CPU time of the unit's run", UK),
                ("workbench_unikernel_restarts_total", "restarts systemd made", UK),
                *((m, f"{k} of the tap", [*UK, "tap"]) for k, m in TAP_COUNTERS.items()),
            )
        }
        seen: set[tuple[str, str, str]] = set()
        for host, events in sorted(self.latest.snapshot().items()):
            for event in events:
                if isinstance(event, HostMetrics):
                    self._host(g, host, event.fields)
                elif isinstance(event, UnikernelMetrics):
                    key = (host, str(event.fields.get("profile", "")), event.unikernel)
                    if key not in seen:  # two records naming one unikernel: the first only,
                        seen.add(key)  # as Prometheus refuses a page with a series twice
                        self._unikernel(g, c, host, event)
        yield from g.values()
        yield from c.values()

    @staticmethod
    def _host(g: dict[str, GaugeMetricFamily], host: str, f: dict[str, object]) -> None:
        ok = not f.get("gaps") or f.get("uptime_s") is not None
        g["workbench_host_sample_ok"].add_metric([host], 1.0 if ok else 0.0)
        load = f.get("load")
        for i, name in enumerate(("load1", "load5", "load15")):
            value = _num(load[i]) if isinstance(load, list) and len(load) > i else None
            if value is not None:
                g[f"workbench_host_{name}"].add_metric([host], value)
        for key in ("memory_total_bytes", "memory_available_bytes"):
            if (value := _num(f.get(key))) is not None:
                g[f"workbench_host_{key}"].add_metric([host], value)
        temps = f.get("temperatures_c")
        for zone, value in temps.items() if isinstance(temps, dict) else ():
            if (number := _num(value)) is not None:
                g["workbench_host_temperature_celsius"].add_metric([host, str(zone)], number)
        words = f.get("throttled_words")
        if f.get("throttled") is not None and isinstance(words, list):
            for condition in THROTTLE_BITS.values():
                flag = 1.0 if condition in words else 0.0
                g["workbench_host_throttled"].add_metric([host, condition], flag)

    @staticmethod
    def _unikernel(
        g: dict[str, GaugeMetricFamily],
        c: dict[str, CounterMetricFamily],
        host: str,
        e: UnikernelMetrics,
    ) -> None:
        f = e.fields
        labels = [host, str(f.get("profile", "")), e.unikernel]
        g["workbench_unikernel_up"].add_metric(
            labels, 1.0 if str(f.get("state", "")).startswith("active/") else 0.0
        )
        for key, name in (
            ("memory_bytes", "workbench_unikernel_memory_bytes"),
            ("memory_peak_bytes", "workbench_unikernel_memory_peak_bytes"),
            ("uptime_s", "workbench_unikernel_uptime_seconds"),
        ):
            if (value := _num(f.get(key))) is not None:
                g[name].add_metric(labels, value)
        for key, name in (
            ("cpu_seconds", "workbench_unikernel_cpu_seconds_total"),
            ("restarts", "workbench_unikernel_restarts_total"),
        ):
            if (value := _num(f.get(key))) is not None:
                c[name].add_metric(labels, value)
        taps = f.get("taps")
        for tap, counters in taps.items() if isinstance(taps, dict) else ():
            if not isinstance(counters, dict):
                continue
            for key, name in TAP_COUNTERS.items():
                if (value := _num(counters.get(key))) is not None:
                    c[name].add_metric([*labels, str(tap)], value)


def registry(latest: Latest) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(WorkbenchCollector(latest))
    return reg
