"""Classify Solo5 console and journal lines, one at a time, and explain failures.

Input is what `solo5-hvt` prints (guest on stdout, tender on stderr) as it reaches the journal.
Each line becomes a `LogLine`: its kind, a level for colouring and filtering, parsed fields, and,
for known failures, a hint a user can act on. `BootPhases` turns a stream of lines into boot
phase timings; `workbench.runwatch` tells from them what ended a run. Pure and fast: no I/O, and
the common app line costs a couple of string tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench import qemulog
from workbench.exits import explain_exit

BANNER = (
    "            |      ___|",
    "  __|  _ \\  |  _ \\ __ \\",
    "\\__ \\ (   | | (   |  ) |",
    "____/\\___/ _|\\___/____/",
)
_BANNER_SET = frozenset(BANNER)

# Help text the tender prints after a usage error; only the lines that are unmistakable.
_USAGE_LINES = frozenset(
    {
        "KERNEL is the filename of the unikernel to run.",
        "ARGS are optional arguments passed to the unikernel.",
        "Core options:",
        "Compiled-in module options:",
    }
)

_MIRAGE_NEW = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)): "
    r"\[(?P<level>[A-Za-z]+)\] \[(?P<src>[^\]]+)\] (?P<msg>.*)"
)
_MIRAGE_OLD = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ?[+-]\d\d:\d\d): "
    r"(?P<level>INF|WRN|ERR|DBG|APP) \[(?P<src>[^\]]+)\] (?P<msg>.*)"
)
_LEVELS = {
    "INFO": "info",
    "INF": "info",
    "DEBUG": "debug",
    "DBG": "debug",
    "WARNING": "warning",
    "WARN": "warning",
    "WRN": "warning",
    "ERROR": "error",
    "ERR": "error",
    "APP": "info",
}
_MEMMAP = re.compile(r"Solo5: Memory map: (?P<mb>\d{1,10}) MB addressable:")
_REGION = re.compile(
    r"Solo5: +(?:(?P<name>\w+) @ \((?P<start>0x[0-9a-f]{1,16}) - (?P<end>0x[0-9a-f]{1,16})\)"
    r"|heap >= (?P<heap>0x[0-9a-f]{1,16}) < stack < (?P<stack>0x[0-9a-f]{1,16}))"
)
# Numbers are bounded where they are parsed: a unikernel prints what it likes, and Python refuses
# to convert a decimal string of more than 4,300 digits.
_EXIT = re.compile(r"Solo5: solo5_exit\((?P<code>-?\d{1,10})\) called")
_TENDER = re.compile(r"(?P<tender>solo5-(?:hvt|spt)(?:-debug)?): (?P<msg>.*)")
_SIGNAL = re.compile(r"Exiting on signal (?P<sig>\d{1,3})$")
_ATTACH = re.compile(r"Could not attach interface: (?P<iface>[^:]+): (?P<err>.*)")
_NOT_ATTACHED = re.compile(
    r"Device '(?P<dev>[^']+)' of type (?P<type>\w+) declared but not attached\."
)
_NOT_DECLARED = re.compile(r"Resource not declared in manifest: '(?P<dev>[^']+)'")
_WRONG_TARGET = re.compile(r"(?P<file>.+): Executable is not for the (?P<tender>solo5-\w+) target")
_OPEN_FAIL = re.compile(r"(?P<file>.+): Could not open: (?P<err>.*)")
_BLOCK_FAIL = re.compile(r"Could not open block device: (?P<file>[^:]+): (?P<err>.*)")
# glibc's assert() text, as the tender prints it before SIGABRT.
ASSERTION = re.compile(
    r"(?P<file>[^:]+):(?P<line>\d+): (?P<func>[^:]+): Assertion `(?P<expr>.*)' failed\.$"
)
# The tender functions whose assertion is the personality(2) query LockPersonality=yes breaks.
PERSONALITY_CHECKS = ("hvt_drop_privileges", "spt_init")

LOCK_PERSONALITY_HINT = (
    "the Solo5 tenders query personality(0xffffffff) at start (solo5-hvt before its own "
    "seccomp filter, solo5-spt in spt_init) and abort when that fails: LockPersonality=yes "
    "does that. Remove it from the unit or the "
    "drop-in that sets it (`systemctl cat UNIT` shows which); workbench's own unit never sets it"
)

# Boot phases, in the order a healthy MirageOS unikernel reaches them.
PHASES = ("banner", "memory_map", "app_start", "network_up")
_NETWORK_UP = ("Plugging into ", "Dual TCP/IP stack assembled", "TCP layer connected")
# Log sources of the network devices MirageOS connects before the application starts
# (mirage-net-solo5, ethernet, arp, mirage-tcpip): their lines are not the application's.
_STACK_SOURCES = frozenset(
    {"netif", "ethernet", "ARP", "ipv4", "ipv6", "ndpc6", "udp", "tcp.pcb", "tcpip-stack-direct"}
)


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which was
# half of classify's ~5.7 us per line under a log flood (2.7 us vs 0.65 us to make one). Nothing
# changes a LogLine after classify made it.
@dataclass(slots=True)
class LogLine:
    kind: str  # banner solo5 memory_map memory_region exit abort trap exception mirage tender
    # usage app
    text: str
    level: str = "info"  # debug info warning error
    source: str | None = None  # Mirage log source ('netif'), tender name, or None
    timestamp: str | None = None  # as printed by mirage-logs
    message: str | None = None  # the text after timestamp/level/source
    hint: str | None = None  # what to do, for known failures
    fields: dict[str, object] = field(default_factory=dict)

    @property
    def is_failure(self) -> bool:
        return self.level == "error"


def classify(line: str) -> LogLine:
    line = line.rstrip("\r\n")
    if line.startswith("Solo5: "):
        return _solo5(line)
    if line.startswith("solo5-"):
        m = _TENDER.match(line)
        if m:
            return _tender(line, m["tender"], m["msg"])
    if qemulog.is_qemu(line):  # virtio: QEMU is the tender
        level, msg, hint, fields = qemulog.classify(line)
        return LogLine("tender", line, level, "qemu", message=msg, hint=hint, fields=fields)
    if line and line[0].isdigit():
        m = _MIRAGE_NEW.match(line) or _MIRAGE_OLD.match(line)
        if m:
            level = _LEVELS.get(m["level"].upper(), "info")
            return LogLine("mirage", line, level, m["src"], m["ts"], m["msg"])
    if line in _BANNER_SET:
        return LogLine("banner", line)
    if line.startswith("Fatal error: exception "):
        return LogLine(
            "exception",
            line,
            "error",
            message=line,
            hint=(
                "an uncaught OCaml exception ended the unikernel: the OCaml runtime prints it "
                "(and a backtrace), then exits 2 (`Solo5: solo5_exit(2) called`)"
            ),
        )
    if line.startswith("usage: solo5-") or line in _USAGE_LINES:
        return LogLine("usage", line, "warning")
    return LogLine("app", line)


def _solo5(line: str) -> LogLine:
    rest = line[7:]
    if rest.startswith("Bindings version "):
        version = rest.removeprefix("Bindings version ")
        return LogLine("solo5", line, source="solo5", message=rest, fields={"version": version})
    if m := _MEMMAP.match(line):
        mb = int(m["mb"])
        return LogLine("memory_map", line, source="solo5", message=rest, fields={"mb": mb})
    if m := _REGION.match(line):
        fields: dict[str, object] = (
            {"region": m["name"], "start": int(m["start"], 16), "end": int(m["end"], 16)}
            if m["name"]
            else {"region": "heap", "start": int(m["heap"], 16), "end": int(m["stack"], 16)}
        )
        return LogLine("memory_region", line, "debug", "solo5", message=rest, fields=fields)
    if m := _EXIT.match(line):
        code = int(m["code"])
        level = "info" if code == 0 else "error"
        return LogLine(
            "exit",
            line,
            level,
            "solo5",
            message=rest,
            hint=None if code == 0 else explain_exit(code & 0xFF),
            fields={"code": code, "status": code & 0xFF},
        )
    if rest.startswith("ABORT: ") or rest == "solo5_abort() called":
        return LogLine("abort", line, "error", "solo5", message=rest, hint=_abort_hint(rest))
    if rest.startswith(("trap: ", "Trap: ")):
        return LogLine(
            "trap",
            line,
            "error",
            "solo5",
            message=rest,
            hint="the unikernel crashed (CPU exception); the exit status will be 255",
        )
    return LogLine("solo5", line, source="solo5", message=rest)


def _abort_hint(rest: str) -> str:
    if "Not enough memory" in rest:
        return "guest memory is too small for this unikernel: raise unikernel.memory (MiB)"
    if "Stack corruption" in rest:
        return "stack smashing detected in the unikernel (a memory-safety bug in C code)"
    if "Fatal trap" in rest:
        return "the unikernel crashed on a CPU exception (see the trap lines above)"
    return "the unikernel aborted; the exit status will be 255"


def _tender(line: str, tender: str, msg: str) -> LogLine:
    if m := _SIGNAL.match(msg):
        sig = int(m["sig"])
        return LogLine(
            "tender",
            line,
            "info",
            tender,
            message=msg,
            fields={"signal": sig},
            hint="stopped by a signal (systemctl stop/restart): exit status 1",
        )
    if (
        msg.startswith("WARNING: ")
        or msg.startswith("adjusting memory")
        or msg.startswith("dumpcore: ")
    ):
        return LogLine("tender", line, "warning", tender, message=msg)
    return LogLine("tender", line, "error", tender, message=msg, hint=_tender_hint(tender, msg))


def _tender_hint(tender: str, msg: str) -> str | None:
    if m := ASSERTION.match(msg):
        if m["func"] in PERSONALITY_CHECKS:
            return LOCK_PERSONALITY_HINT
        return f"{tender} failed an internal check in {m['func']} and aborted (SIGABRT)"
    if m := _ATTACH.match(msg):
        return _attach_hint(m["iface"], m["err"])
    if m := _NOT_ATTACHED.match(msg):
        key = "networks" if m["type"] == "NET_BASIC" else "block"
        return f"map device '{m['dev']}' in the profile: unikernel.{key}.{m['dev']}"
    if msg.startswith("All declared devices must be attached"):
        return "every device in the unikernel's manifest needs a mapping (see the lines above)"
    if m := _NOT_DECLARED.match(msg):
        return (
            f"the unikernel declares no device '{m['dev']}': compare unikernel.networks/block "
            "with `workbench inspect ARTIFACT`"
        )
    if msg.startswith("Invalid option: `--net="):
        return "the legacy --net=TAP form is gone since Solo5 0.6.0: use --net:NAME=TAP"
    if msg.startswith("Invalid option"):
        return "the tender rejected its command line (see the lines before this one)"
    if m := _WRONG_TARGET.match(msg):
        target = m["tender"].removeprefix("solo5-")
        return (
            "the unikernel was built for another target: "
            f"rebuild with `mirage configure -t {target}`"
        )
    if msg.startswith("Could not open: /dev/kvm"):
        if msg.endswith("Permission denied"):
            return (
                "the service user cannot open /dev/kvm: "
                "add it to group kvm (`usermod -aG kvm USER`)"
            )
        return (
            "no /dev/kvm on this host: KVM needs a 64-bit kernel on a Raspberry Pi "
            "(arm_64bit=1) or VT-x/AMD-V enabled and kvm_intel/kvm_amd loaded on x86"
        )
    if msg.startswith("KVM: ioctl (GET_API_VERSION)"):
        return "/dev/kvm is not a KVM device here"
    if msg.startswith("KVM: "):
        return "KVM stopped the guest (an unsupported instruction or a crash in the unikernel)"
    if m := _BLOCK_FAIL.match(msg):
        return (
            f"block image {m['file']} cannot be opened ({m['err']}): "
            "create it or fix unikernel.block"
        )
    if m := _OPEN_FAIL.match(msg):
        return (
            f"the kernel file {m['file']} cannot be opened ({m['err']}): "
            "the release is incomplete; redeploy"
        )
    if msg.startswith("Malformed argument to --mem"):
        return "unikernel.memory must be a whole number of MiB"
    if "exceeds the max size" in msg:
        return "unikernel.memory is above the tender's 4096 MiB limit"
    if msg == "Missing KERNEL operand":
        return "the unit's command line has no kernel path: redeploy to rewrite the unit"
    if "invalid executable" in msg or "INV_EXE" in msg or "elf header" in msg:
        return "the kernel file is not a valid Solo5 unikernel: check it with `workbench inspect`"
    return None


def _attach_hint(iface: str, err: str) -> str:
    """Why the tender could not open its tap, by the errno text it printed."""
    if err == "No such file or directory":
        return (
            f"tap '{iface}' does not exist on the host: `workbench deploy` installs the "
            f"network config; check with `ip link show {iface}`"
        )
    if err == "Network is down":
        return f"tap '{iface}' is down: `ip link set dev {iface} up` (the network config does it)"
    if err == "Device or resource busy":
        return (
            f"tap '{iface}' is already attached to another process (a second tender?): "
            "stop it, or give this unikernel its own tap"
        )
    if err == "Invalid argument":
        return f"'{iface}' is not a tap interface: map the device to a tap in unikernel.networks"
    if err == "Permission denied":
        return (
            f"the service user may not open tap '{iface}': create it with "
            f"`ip tuntap add {iface} mode tap user USER` (the network config does)"
        )
    if err == "File name too long":
        return f"'{iface}' is longer than 15 characters"
    if iface.startswith("@"):
        return f"file descriptor {iface[1:]} is not an open tap passed to the tender ({err})"
    return f"the tender could not attach '{iface}' ({err}): check `ip link show {iface}`"


@dataclass
class BootPhases:
    """Feed lines with their times; learn when each boot phase was first reached."""

    started_at: float | None = None
    reached: dict[str, float] = field(default_factory=dict)

    def feed(self, line: LogLine, at: float) -> str | None:
        """Return the phase this line reaches for the first time, if any."""
        phase = self._phase_of(line)
        if phase is None or phase in self.reached:
            return None
        self.reached[phase] = at
        return phase

    @staticmethod
    def _phase_of(line: LogLine) -> str | None:
        kind = line.kind
        if kind == "banner":
            return "banner"
        if kind == "memory_map":
            return "memory_map"
        if kind == "mirage":
            if line.message and line.message.startswith(_NETWORK_UP):
                return "network_up"
            return None if line.source in _STACK_SOURCES else "app_start"
        if kind == "app" and line.text.strip():
            return "app_start"
        return None

    def durations(self) -> dict[str, float]:
        """Seconds from the unit start (or the first phase) to each phase reached."""
        if not self.reached:
            return {}
        origin = self.started_at if self.started_at is not None else min(self.reached.values())
        return {p: round(self.reached[p] - origin, 6) for p in PHASES if p in self.reached}
