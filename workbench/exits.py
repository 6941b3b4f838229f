"""What the end of a Solo5 tender means: its exit status, or the signal that killed it.

solo5-hvt and solo5-spt end differently (docs/DOUBLES.md has the sources): hvt catches SIGINT
and SIGTERM, says `Exiting on signal N` and exits 1, and a crash of the unikernel is a trap the
bindings report, exit 255. spt installs no handler, so a stop kills it (SIGTERM: 143 as a shell
says it), and since it runs the unikernel as host code a crash is a SIGSEGV of the tender (139)
and a system call outside its seccomp filter a SIGSYS (159). Pure, no I/O.
"""

from __future__ import annotations

SIGNALS = {
    1: "SIGHUP",
    2: "SIGINT",
    4: "SIGILL",
    6: "SIGABRT",
    7: "SIGBUS",
    8: "SIGFPE",
    9: "SIGKILL",
    11: "SIGSEGV",
    13: "SIGPIPE",
    15: "SIGTERM",
    31: "SIGSYS",
}
# A stop, not a crash: `systemctl stop/restart` sends SIGTERM (KillSignal=), Ctrl-C SIGINT.
STOP_SIGNALS = frozenset({2, 15})

_EXIT_MEANINGS = {
    0: "the unikernel exited normally",
    1: (
        "Solo5 internal error, a tender error (see its message), or the tender stopped on "
        "SIGTERM/SIGINT"
    ),
    2: (
        "an uncaught OCaml exception (the OCaml runtime exits 2 after `Fatal error: exception "
        "...`), or the application's own exit 2"
    ),
    63: "the unikernel printed its help or version (a --help/--version boot argument?)",
    64: "the unikernel could not parse its boot arguments: check unikernel.args",
    # QEMU's isa-debug-exit: the virtio bindings write 41 at every exit, QEMU exits 41 << 1 | 1.
    83: (
        "under virtio (QEMU), the guest exited: QEMU exits 83 whatever the guest's status, "
        "which is on its `Solo5: solo5_exit(N) called` line; under hvt/spt, the unikernel's own "
        "solo5_exit(83)"
    ),
    125: "internal error in the MirageOS runtime",
    255: (
        "the unikernel aborted: a Solo5 ABORT, a CPU trap, stack corruption or not enough "
        "memory (see the lines before it)"
    ),
}

_SIGNAL_MEANINGS = {
    2: "a stop (Ctrl-C): solo5-spt has no handler for SIGINT",
    6: "the tender failed one of its own checks and aborted (its last line says which)",
    9: "an OOM kill, a `kill -9` on the host, or systemd's TimeoutStopSec= running out",
    11: (
        "the unikernel crashed: solo5-spt runs it as host code, so a memory fault in it (a "
        "`Solo5: trap` under hvt) is a SIGSEGV of the tender"
    ),
    15: "a stop or restart of the unit: solo5-spt has no handler for SIGTERM and dies of it",
    31: (
        "a seccomp filter killed it: under solo5-spt the unikernel made a system call outside "
        "spt's own filter (a library it links needs one Solo5 does not provide; it runs under "
        "hvt); before the unikernel starts, a SystemCallFilter= in the unit or a host seccomp "
        "policy kills the tender the same way. `journalctl -k` shows the syscall when auditing "
        "is on"
    ),
}


def signal_name(sig: int) -> str:
    return SIGNALS.get(sig, f"signal {sig}")


def explain_signal(sig: int) -> str:
    """Why a tender dies of `sig`, as far as the signal tells."""
    return _SIGNAL_MEANINGS.get(
        sig, "a `kill` on the host, an OOM kill, or a crash in the tender itself"
    )


def explain_exit(status: int) -> str:
    """Meaning of a tender exit status (the guest's solo5_exit(N) is passed on as N & 0xff; a
    shell's 128+N is death by signal N)."""
    if status in _EXIT_MEANINGS:
        return _EXIT_MEANINGS[status]
    if status > 128 and status - 128 in SIGNALS:
        sig = status - 128
        return f"the tender was killed by {signal_name(sig)}: {explain_signal(sig)}"
    return f"the unikernel called solo5_exit({status}) (application-defined status)"
