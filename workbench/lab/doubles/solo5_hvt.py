"""LAB TEST DOUBLE of the guest side of a Solo5 v0.12.1 tender. Not the real tender.

The lab's tender double is a small static ELF (tender.c beside this file) that starts the way the
real solo5-hvt/solo5-spt starts -- arguments, the artifact's notes, taps, block files, /dev/kvm,
personality, the modules' setup, its own seccomp filter -- and then execs this guest (a zip with
guest_net.py, run as `python3 -I ZIP`) under that filter, handing it the attached devices:

    python3 -I ZIP PROG KERNEL MEM_MB NETS BLOCKS -- GUEST_ARGS...

(NETS is `name=fd=mac,...`, BLOCKS `name=fd,...`). From here on the double plays the unikernel:
the banner and memory map the real bindings print, what the artifact's `.workbench.lab.guest`
section asks for (log lines, an exit status, a crash, listening ports), and ARP, ping and
TCP/HTTP on the --ipv4 address behind the tap, so health checks cross the real tap and bridge.
Guest output goes to stdout, tender messages to stderr; SIGTERM/SIGINT end hvt with `Exiting on
signal N` and exit 1; spt installs no handler, so a signal kills it (143 for SIGTERM). Every text
it prints has its source in docs/DOUBLES.md (tests/unit/test_double_texts.py holds that).
Standard library only; no sockets, no processes: the seccomp filter it runs under has neither.
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import signal
import struct
import sys
import time

from workbench.lab.doubles.guest_net import Net

PROG = sys.argv[1] if len(sys.argv) > 1 else "solo5-hvt"  # handed over by tender.c
BANNER = (
    "            |      ___|\n"
    "  __|  _ \\  |  _ \\ __ \\\n"
    "\\__ \\ (   | | (   |  ) |\n"
    "____/\\___/ _|\\___/____/\n"
)
# Boot pacing. A real unikernel prints its banner and memory map at once (the bindings, before
# any OCaml runs), then the OCaml runtime and the libraries' initialisers run before MirageOS
# connects its devices: a few ms.
OCAML_START = 0.005
# Each device's connect (netif, ethernet, ARP, UDP, TCP, the stack) is sub-ms bookkeeping.
CONNECT_STEP = 0.001
# IPv6 duplicate address detection: mirage-tcpip's Ipv6.connect waits for DAD on the link-local
# address, RetransTimer 1 s x DupAddrDetectTransmits 1 (src/ipv6/ndpv6.ml:89,94), so "IP6:
# Started" comes about a second after "IP6: Starting". Shortened here to keep the tests fast.
DAD_WAIT = 0.1
# The exit status the OCaml runtime gives an uncaught exception: caml_fatal_uncaught_exception
# calls exit(2), which ocaml-solo5's nolibc turns into solo5_exit(2).
UNCAUGHT_EXCEPTION = 2


def warnx(msg: str) -> None:
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.stderr.flush()


def log_line(level: str, src: str, msg: str) -> str:
    """A mirage-logs line: RFC 3339 time at UTC ("-00:00"), then Logs' header and source."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime())
    return f"{now}: [{level}] [{src}] {msg}\n"


def guest_spec(path: str) -> dict:
    """The `.workbench.lab.guest` section of the artifact (JSON), {} when it has none. The
    tender part (tender.c) has already checked the ELF and its notes."""
    with open(path, "rb") as fh:
        data = fh.read()
    shoff = struct.unpack_from("<Q", data, 40)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    if not shnum or shstrndx >= shnum:
        return {}
    str_off = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 24)[0]
    for i in range(shnum):
        sh_name, _t, _fl, _a, sh_offset, sh_size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize
        )
        end = data.index(b"\0", str_off + sh_name)
        if data[str_off + sh_name : end] == b".workbench.lab.guest":
            return json.loads(data[sh_offset : sh_offset + sh_size] or b"{}")
    return {}


def link_local(mac: bytes) -> ipaddress.IPv6Interface:
    """fe80::/64 with the modified EUI-64 of `mac` (mirage-tcpip ndpv6.ml link_local_addr)."""
    eui = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:6]
    return ipaddress.IPv6Interface((b"\xfe\x80" + bytes(6) + eui, 64))


class Guest:
    def __init__(
        self, spec: dict, name: str, args: list[str], mem_mb: int, nets: dict, quiet: bool
    ) -> None:
        self.spec, self.name, self.args, self.mem_mb = spec, name, args, mem_mb
        self.nets: dict[str, tuple[int, bytes]] = nets
        self.quiet = quiet
        self.spt = PROG.startswith("solo5-spt")
        self.ip = ipaddress.IPv4Interface("10.0.0.2/24")
        self.ipv4_only = False
        self.ports: dict[int, dict] = {int(p["port"]): p for p in spec.get("listen", [])}

    def out(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def log(self, level: str, src: str, msg: str) -> None:
        self.out(log_line(level, src, msg))

    def solo5(self, line: str) -> None:
        if not self.quiet:
            self.out(f"Solo5: {line}\n")

    def exit(self, status: int) -> None:
        self.solo5(f"solo5_exit({status}) called")
        sys.exit(status & 0xFF)

    def boot(self) -> None:
        if not self.quiet:
            self.out(BANNER)
        self.solo5("Bindings version v0.12.1")
        if self.mem_mb < int(self.spec.get("min_mem", 4)):
            self.solo5("ABORT: mem.c:54: Not enough memory")
            sys.exit(255)
        self.solo5(f"Memory map: {self.mem_mb} MB addressable:")
        self.solo5("  reserved @ (0x0 - 0xfffff)")
        self.solo5("      text @ (0x100000 - 0x104fff)")
        self.solo5("    rodata @ (0x105000 - 0x106fff)")
        self.solo5("      data @ (0x107000 - 0x30bfff)")
        self.solo5(f"      heap >= 0x30c000 < stack < {self.mem_mb * 1024 * 1024:#x}")
        time.sleep(OCAML_START)
        if self.spec.get("mirage"):
            self.parse_args()
        net = self.connect_stack()
        for entry in self.spec.get("logs", []):
            self.log(entry.get("level", "INFO"), entry.get("src", "application"), entry["msg"])
        self.crash(self.spec.get("crash"))
        if "exit" in self.spec and self.spec.get("exit_after") is None:
            self.exit(int(self.spec["exit"]))
        self.run(net)

    def crash(self, how: str | None) -> None:
        """End the way a crashing unikernel ends, per tender (docs/DOUBLES.md)."""
        if not how:
            return
        if how == "abort":  # bindings/abort.c: solo5_abort()
            self.solo5("solo5_abort() called")
            sys.exit(255)
        if how == "seccomp":  # a syscall outside the filter: the kernel kills with SIGSYS
            os.getppid()
            sys.exit(159)  # not reached under the tender's filter
        if how == "trap" and self.spt:  # spt runs the unikernel as host code: a fault is SIGSEGV
            os.kill(os.getpid(), signal.SIGSEGV)
        if how == "trap":  # hvt: the bindings' trap handler, then abort (reference section 5)
            self.solo5("trap: type=#PF ec=0x2 rip=0x104022 rsp=0x3ffffe0 rflags=0x10006")
            self.solo5("trap: cr2=0x8")
            self.solo5("ABORT: cpu_x86_64.c:182: Fatal trap")
            sys.exit(255)
        # Anything else is an uncaught OCaml exception with that message: the runtime prints
        # it (and a backtrace, left out here) on the console and exits 2.
        quoted = how.replace("\\", "\\\\").replace('"', '\\"')  # OCaml's %S, for ASCII
        self.out(f'Fatal error: exception Failure("{quoted}")\n')
        self.exit(UNCAUGHT_EXCEPTION)

    def parse_args(self) -> None:
        """MirageOS runtime arguments (cmdliner): --ipv4 and friends; an unknown one is exit 64
        with cmdliner's message; --help is exit 63 (its manual is not played)."""
        known = ("--ipv4=", "--ipv4-gateway=", "--ipv6=", "-l", "--logs=", "--accept-router-")
        for i, arg in enumerate(self.args):
            if arg == "--help" or arg.startswith("--help="):
                self.exit(63)
            if arg.startswith("--ipv4="):
                try:
                    self.ip = ipaddress.IPv4Interface(arg.split("=", 1)[1])
                except ValueError:
                    self.usage_error(f"option '--ipv4': invalid value '{arg[7:]}'")
            elif arg.startswith("--ipv4-only"):
                self.ipv4_only = arg in ("--ipv4-only", "--ipv4-only=true")
            elif not arg.startswith(known) and not (i and self.args[i - 1] == "-l"):
                self.usage_error(f"unknown option '{arg}'.")

    def usage_error(self, err: str) -> None:
        self.out(f"{self.name}: {err}\n")
        self.out(f"Usage: {self.name} [OPTION]…\n")
        self.out(f"Try '{self.name} --help' for more information.\n")
        self.exit(64)

    def connect_stack(self) -> Net | None:
        """What a MirageOS 4 unikernel with mirage-tcpip's direct stack logs as it connects its
        devices, in that order, paced as a real boot is."""
        net = None
        for dev, (fd, mac) in self.nets.items():
            net = net or Net(fd, mac, self.ip, self.ports, lambda m: self.log("INFO", "http", m))
            self.log("INFO", "netif", f"Plugging into {dev} with mac {pp_mac(mac)} mtu 1500")
        if net is None:
            return None
        hw, ll = pp_mac(net.mac), link_local(net.mac)
        ips = f"{self.ip}, {ll}"
        self.connected("ethernet", f"Connected Ethernet interface {hw}")
        self.connected("ARP", f"Sending gratuitous ARP for {self.ip.ip} ({hw})")
        net.gratuitous_arp()
        self.connected("ipv6", "IP6: Starting")
        if not self.ipv4_only:  # Ipv6.connect ~no_init:true skips DAD and its log line
            time.sleep(DAD_WAIT)
            self.log("INFO", "ipv6", f"IP6: Started with {ll.ip}")
        self.connected("udp", f"UDP layer connected on {ips}")
        self.connected("tcp.pcb", f"TCP layer connected on {ips}")
        self.connected("tcpip-stack-direct", f"Dual TCP/IP stack assembled: mac={hw},ip={ips}")
        return net

    def connected(self, src: str, msg: str) -> None:
        """One device's connect line, a connect step after the previous one."""
        time.sleep(CONNECT_STEP)
        self.log("INFO", src, msg)

    def run(self, net: Net | None) -> None:
        """Serve the network until a signal, the spec's exit_after, or its spam is done."""
        spam = self.spec.get("spam")
        deadline = None
        if self.spec.get("exit_after") is not None:
            deadline = time.monotonic() + float(self.spec["exit_after"])
        next_spam = time.monotonic()
        sent = 0
        while True:
            timeout = 1.0
            now = time.monotonic()
            if spam:
                timeout = max(0.0, min(timeout, next_spam - now))
            if deadline is not None:
                timeout = max(0.0, min(timeout, deadline - now))
            if select.select([net.fd] if net else [], [], [], timeout)[0] and net:
                net.poll()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.exit(int(self.spec.get("exit", 0)))
            if spam and now >= next_spam:
                # Lines in bursts every 10 ms at the asked rate; one write per burst.
                batch = max(1, int(spam["rate"]) // 100)
                self.out(
                    "".join(log_line("INFO", "spam", f"line {sent + i}") for i in range(batch))
                )
                sent += batch
                next_spam += 0.01
                if spam.get("count") and sent >= int(spam["count"]):
                    spam = None


def pp_mac(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


# --- hand-over from the tender part ----------------------------------------------------------


def net_devices(listed: str) -> dict[str, tuple[int, bytes]]:
    """`name=fd=mac,...` as tender.c hands it over: the tap and the MAC the tender chose."""
    out = {}
    for item in filter(None, listed.split(",")):
        name, fd, mac = item.split("=")
        out[name] = (int(fd), bytes.fromhex(mac.replace(":", "")))
    return out


def main(argv: list[str]) -> None:
    prog, kernel, mem_mb, nets, _blocks, _sep, *guest_args = argv
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # python3 ignores it; the tenders do not
    if not prog.startswith("solo5-spt"):

        def on_signal(signum: int, _frame: object) -> None:
            warnx(f"Exiting on signal {signum}")
            os._exit(1)

        for signum in stops:
            signal.signal(signum, on_signal)
    elif signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        # spt installs no handler: SIGINT keeps the disposition it was started with (python3
        # put its own there unless it was ignored); SIGTERM python3 leaves alone.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)  # blocked by tender.c across the exec
    spec = guest_spec(kernel)
    quiet = "--solo5:quiet" in guest_args
    name = os.path.basename(kernel).rsplit(".", 1)[0]
    guest_args = [a for a in guest_args if a != "--solo5:quiet"]
    Guest(spec, name, guest_args, int(mem_mb), net_devices(nets), quiet).boot()


if __name__ == "__main__":
    main(sys.argv[1:])
