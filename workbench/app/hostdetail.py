"""The dashboard's detail pane: the selected row whole (what the narrow table leaves out), its
error and fix, crash loop, health, graphs, and how fresh it all is."""

from __future__ import annotations

from textual.widget import Widget

from workbench.app.hostrows import HostRow
from workbench.app.widgets import themed
from workbench.app.widgets.logrow import clock
from workbench.app.widgets.metricspane import metrics_lines
from workbench.events import HostMetrics
from workbench.statustext import release_line


def detail_text(widget: Widget, row: HostRow, *, no_rollback: bool) -> themed.SafeText:
    e = row.profile
    out = themed.SafeText()
    muted = themed.style(widget, "text-muted")
    out.append(f"{e.name}", themed.style(widget, "text-primary", bold=True))
    if e.error:
        out.append(f": {e.error}\n", themed.style(widget, "text-error"))
        out.append(f"fix the file (ctrl+r reads it again): `workbench profiles show {e.name}`")
        return out
    address = e.addresses.get(row.host, "-")
    out.append(f" / {row.host} ({address}")
    out.append(f", {row.fields['arch']})" if row.fields.get("arch") else ")")
    out.append(f"  unikernel {e.unikernel}")
    if e.builder:
        out.append(f", built on {e.builder}")
    if runtime := row.fields.get("runtime"):
        out.append(
            f"; runs under QEMU ({runtime})"
            if runtime in ("virtio", "qemu")
            else f"; runs under solo5-{runtime}"
        )
    if row.fields.get("kvm"):
        out.append(f"; /dev/kvm: {row.fields['kvm']}")
    out.append(f"\n{e.description}\n", muted)
    f = row.fields
    if row.error:
        out.append(f"{row.error}\n", themed.style(widget, "text-error", bold=True))
        if row.hint:
            out.append(f"fix: {row.hint}\n")
    elif f.get("crash_loop"):
        out.append(f"{f['crash_loop']}\n", themed.style(widget, "text-error", bold=True))
        if f.get("last_exit"):
            out.append(f"{f['last_exit']}\n")
        if f.get("last_exit_hint"):
            out.append(f"fix: {f['last_exit_hint']}\n")
    elif f.get("health_detail"):
        colour = "text-error" if f.get("health") == "failing" else "text-muted"
        out.append(f"health: {f['health_detail']}\n", themed.style(widget, colour))
    metrics_lines(widget, out, row.series, row.host_metrics)
    if no_rollback:
        out.append("b rollback: no earlier release here to go back to\n", muted)
    out.append(when(row), muted)
    if not row.error and f.get("release_created"):
        out.append(f"; release {f.get('release')} made {f['release_created']}", muted)
    return out


def when(row: HostRow) -> str:
    """ "last answer" only for a host that answered; a host that never did has a last try."""
    stamp = lambda at: f"{clock(at)} UTC"  # noqa: E731
    if row.at is None:
        return "asking…"
    if not row.error:
        return f"last answer {stamp(row.at)}"
    answered = f"; last answer {stamp(row.answered)}" if row.answered else "; it never answered"
    return f"last try {stamp(row.at)}{answered}"


def rollback_facts(rows: list[HostRow], now: float) -> tuple[str, str | None]:
    """Both releases of each host and their ages, for the rollback question; or why there is
    nothing to roll back to when the last status says so. Hosts not known yet say nothing
    (the engine says it, if it cannot)."""
    lines, nothing = [], []
    for row in rows:
        if row.at is None or row.error:
            continue
        if not row.fields.get("previous"):
            nothing.append(row.host)
            continue
        current = release_line(row.fields, "release", now)
        lines.append(f"{row.host}: {current}\n  -> {release_line(row.fields, 'previous', now)}")
    if nothing and not lines:
        where = ", ".join(nothing)
        return "", f"no earlier release on {where} to roll back to: deploy a new one first"
    return "\n".join(lines), None


def throttle_news(seen: dict[str, set[str]], base: str, event: HostMetrics) -> str | None:
    """What a board started doing now (throttling, under-voltage) since its last sample, once
    per host however many rows show it, not what it did since boot; `seen` keeps the state."""
    words = event.fields.get("throttled_words")
    if "uptime_s" not in event.fields or not isinstance(words, list):
        return None  # a gap says nothing about the board
    key = event.host if base in ("", event.host) else f"{base}:{event.host}"
    now = {str(w) for w in words if str(w).endswith(" now")}
    new = now - seen.get(key, set())
    seen[key] = now
    return f"{event.host}: {', '.join(sorted(now))}" if new else None
