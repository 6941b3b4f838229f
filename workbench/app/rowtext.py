"""What a dashboard row says, as text: the runtime cell, sparklines, memory.
Pure: no textual."""

from __future__ import annotations

from workbench.app.spark import spark


def runtime_cell(fields: dict[str, object]) -> tuple[str | None, str | None]:
    """What runs the unikernel (hvt, spt, virtio), flagged when it lacks a usable KVM; before
    a first deploy, the host's KVM as far as the service user goes. Text and its colour."""
    runtime, kvm = fields.get("runtime"), fields.get("kvm")
    kvm_text = "no access" if str(kvm).startswith("no access") else str(kvm)
    kvm_ok = kvm == "ok"
    kvm_bad = kvm in ("missing", "no access") or str(kvm).startswith("no access")
    if runtime == "spt":
        return "spt", "text-success"  # no KVM needed
    if runtime in ("virtio", "qemu"):  # QEMU runs it either way; without KVM, emulated
        accel = fields.get("accel")  # as the unit says; else as far as /dev/kvm goes
        if accel == "kvm" or (accel is None and kvm_ok):
            return runtime, "text-success"
        return f"{runtime} tcg", "text-warning"
    if isinstance(runtime, str):
        if kvm_bad:
            return f"{runtime} !kvm", "text-warning"
        return runtime, "text-success" if kvm_ok else None
    if kvm is None:
        return None, None
    if kvm_ok:
        return "kvm ok", "text-success"
    return ("no kvm" if kvm == "missing" else kvm_text), "text-warning" if kvm_bad else None


def spark_cell(values: list[float | None], floor: float) -> str:
    """The last 6 samples as bars (at least `floor` high, so an idle unikernel stays low);
    "-" before any."""
    return spark(values, 6, floor) if any(v is not None for v in values) else "-"


def memory_cell(samples: list[float | None], status_kib: object) -> str:
    """`▃▄▅ 11.4M`: the last three samples' memory as bars (scaled from zero: a leak climbs,
    a steady unikernel stays level) and the newest figure; status' figure before any sample."""
    last = next((v for v in reversed(samples) if v is not None), None)
    if last is None:
        if not isinstance(status_kib, int) or isinstance(status_kib, bool):
            return "-"
        last = status_kib * 1024.0
    mib = last / (1024 * 1024)
    figure = f"{mib:.1f}M" if mib < 1000 else f"{mib / 1024:.1f}G"
    return f"{trend(samples[-3:])} {figure}"


def trend(values: list[float | None]) -> str:
    """Bars from the lowest to the highest of `values` (a leak climbs ▁▄█); level (within 1 %)
    is a level line ▄▄▄; a gap is a space."""
    numbers = [v for v in values if v is not None]
    if not numbers:
        return " " * len(values)
    lo, hi = min(numbers), max(numbers)
    if hi - lo <= 0.01 * hi:
        return "".join("▄" if v is not None else " " for v in values)
    return spark([None if v is None else v - lo for v in values], len(values))
