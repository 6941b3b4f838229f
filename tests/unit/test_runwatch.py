"""What ended a run, told from the journal lines a unit's run leaves (real Solo5 v0.12.1 texts,
systemd's own lines as tests/data/status-*.txt recorded them) and from `systemctl show`'s
ExecMainCode/ExecMainStatus, which `status` feeds when the journal lacks the exit line."""

from __future__ import annotations

from workbench.runwatch import RunWatch

UNIT = "unikernel-t88.service"


def test_a_signal_systemd_names_only_by_number_is_not_called_sigsignal():
    """`systemctl show` says ExecMainCode=2 (killed) ExecMainStatus=3: SIGQUIT, which the
    signal table does not name; the verdict says "signal 3", not "SIGsignal 3"."""
    before = RunWatch(unit=UNIT)
    before.feed_exit("killed", 3)
    assert before.reason == "the tender aborted before the unikernel started (signal 3)"
    assert before.short == "tender aborted (signal 3)"
    running = RunWatch(unit=UNIT, started=True)
    running.feed_exit("dumped", 3)
    assert running.reason == "the tender was killed by signal 3 while the unikernel ran"
    assert running.short == "killed (signal 3)"
