"""LAB TEST DOUBLE of the Solo5 v0.12.1 `solo5-hvt` tender. Not the real tender.

Solo5 cannot be had on the lab's machines, so this program stands in for it, and only in the lab.
As the tender it reproduces the real v0.12.1 behaviour captured in
tests/data/solo5-v0.12.1-outputs.md: argument grammar (--mem, --net:NAME=IFACE, --block:NAME=PATH,
--version, --help; the legacy --net= rejected), manifest checks against the artifact's ELF notes,
the tap must exist, be up and be free, /dev/kvm must be openable, guest output on stdout, tender
messages on stderr, the same texts and exit codes, `Exiting on signal 15` and exit 1 on SIGTERM.
As the guest it plays what the artifact's `.workbench.lab.guest` section asks for (log lines, an
exit status, a crash, listening ports) and answers ARP, ping and TCP/HTTP on the --ipv4 address
behind the tap, so health checks cross the real tap and bridge.

Standard library only: the lab's launcher (a small static ELF named solo5-hvt) runs it with the
target's python3. It says on stderr, once, that it is a double.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

PROG = os.environ.get("WORKBENCH_LAB_ARGV0", "solo5-hvt")
TARGET = "spt" if PROG.startswith("solo5-spt") else "hvt"
ABI_TARGETS = {1: "hvt", 2: "spt", 3: "virtio", 4: "muen", 5: "genode"}
ABI1, MFT1 = 0x31494241, 0x3154464D
MAX_MEM = 4294967296
BANNER = (
    "            |      ___|\n"
    "  __|  _ \\  |  _ \\ __ \\\n"
    "\\__ \\ (   | | (   |  ) |\n"
    "____/\\___/ _|\\___/____/\n"
)
USAGE = f"""usage: {PROG} [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]
KERNEL is the filename of the unikernel to run.
ARGS are optional arguments passed to the unikernel.
Core options:
  [ --mem=512 ] (guest memory in MB)
    --help (display this help)
    --version (display version information)
Compiled-in modules: core block net 
Compiled-in module options:
    --block:NAME=PATH (attach block device/file at PATH as block storage NAME)
  [ --block-sector-size:NAME=SECTORSIZE ] (set sector size for block device NAME; must be a power of two greater than or equal 512)
    --net:NAME=IFACE | @NN (attach tap at IFACE or at fd @NN as network NAME)
  [ --net-mac:NAME=HWADDR ] (set HWADDR for network NAME)
"""  # noqa: E501 - verbatim from the real tender, trailing space included

TUNSETIFF = 0x400454CA
SIOCGIFFLAGS = 0x8913
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def warnx(msg: str) -> None:
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.stderr.flush()


def errx(msg: str, code: int = 1) -> None:
    warnx(msg)
    sys.exit(code)


def usage() -> None:
    sys.stderr.write(USAGE)
    sys.exit(1)


# --- the artifact ------------------------------------------------------------------------------


def read_notes(path: str) -> tuple[dict[int, bytes], dict[str, bytes], int]:
    """Solo5 notes (realigned descriptors), named sections, and e_machine of an ELF64 file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except IsADirectoryError:
        errx(
            f"{path}: pread_in_full for elf header while loading note returned "
            "18446744073709551615 < 0"
        )
    if len(data) < 64:
        errx(
            f"{path}: invalid executable: elf header does not match the expected size "
            f"({len(data)} != 64)"
        )
    if data[:4] != b"\x7fELF" or data[4] != 2 or struct.unpack_from("<H", data, 16)[0] != 2:
        errx(
            f"{path}: invalid executable: invalid or unsupported executable "
            "(elf header invalid while loading note)"
        )
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff, shoff = struct.unpack_from("<QQ", data, 32)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", data, 54)
    notes: dict[int, bytes] = {}
    for i in range(phnum):
        p_type, _f, p_offset, _v, _p, _filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + i * phentsize
        )
        if p_type != 4:
            continue
        namesz, descsz, ntype = struct.unpack_from("<III", data, p_offset)
        name = data[p_offset + 12 : p_offset + 12 + namesz]
        desc_at = p_offset + 12 + ((namesz + 3) & ~3)
        if name == b"Solo5\0":
            pad = (-(desc_at - p_offset)) % (8 if ntype == MFT1 else 4)
            notes[ntype] = data[desc_at + pad : desc_at + descsz]
    sections: dict[str, bytes] = {}
    if shnum and shstrndx < shnum:
        str_off = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 24)[0]
        for i in range(shnum):
            sh_name, _t, _fl, _a, sh_offset, sh_size = struct.unpack_from(
                "<IIQQQQ", data, shoff + i * shentsize
            )
            end = data.index(b"\0", str_off + sh_name)
            sections[data[str_off + sh_name : end].decode()] = data[sh_offset : sh_offset + sh_size]
    return notes, sections, machine


def manifest_devices(desc: bytes, path: str) -> list[tuple[str, str]]:
    version, entries = struct.unpack_from("<II", desc)
    if version != 1 or len(desc) != 8 + entries * 104 or entries < 1:
        errx(f"{path}: Solo5 manifest is invalid")
    out = []
    for i in range(1, entries):
        raw = desc[8 + i * 104 : 8 + i * 104 + 68]
        kind = struct.unpack_from("<I", desc, 8 + i * 104 + 68)[0]
        if kind in (1, 2):
            out.append(
                (raw.split(b"\0", 1)[0].decode(), "BLOCK_BASIC" if kind == 1 else "NET_BASIC")
            )
    return out


# --- devices -----------------------------------------------------------------------------------


def tap_attach(iface: str) -> int:
    """Like Solo5's tap_attach: the tap must exist and be up (no create-on-open), then TUNSETIFF."""
    if iface.startswith("@"):
        fd = int(iface[1:]) if iface[1:].isdigit() else -1
        try:
            os.fstat(fd)
        except OSError as exc:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF)) from exc
        return fd
    if len(iface) >= 16:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    # SIOCGIFFLAGS in this process's network namespace (/sys may show another namespace's links).
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            ifreq = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH14x", iface.encode(), 0))
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT)) from None
            raise
    flags = struct.unpack_from("H", ifreq, 16)[0]
    if not flags & 0x1:
        raise OSError(errno.ENETDOWN, os.strerror(errno.ENETDOWN))
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", iface.encode(), IFF_TAP | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


# --- the guest ---------------------------------------------------------------------------------


class Guest:
    def __init__(
        self, spec: dict, name: str, args: list[str], mem_mb: int, nets: dict[str, int], quiet: bool
    ) -> None:
        self.spec = spec
        self.name = name
        self.args = args
        self.mem_mb = mem_mb
        self.nets = nets
        self.quiet = quiet
        self.ip = ipaddress.IPv4Interface("10.0.0.2/24")
        self.mac = bytes([0x02]) + random.randbytes(5)
        self.conns: dict[tuple, dict] = {}
        self.ports: dict[int, dict] = {int(p["port"]): p for p in spec.get("listen", [])}

    def out(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def log(self, level: str, src: str, msg: str) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime())
        self.out(f"{now}: [{level}] [{src}] {msg}\n")

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
        if self.spec.get("mirage"):
            self.parse_args()
        mac = ":".join(f"{b:02x}" for b in self.mac)
        for dev in self.nets:
            self.log("INFO", "netif", f"Plugging into {dev} with mac {mac} mtu 1500")
        if self.nets:
            self.log("INFO", "ethernet", f"Connected Ethernet interface {mac}")
            self.log("INFO", "ARP", f"Sending gratuitous ARP for {self.ip.ip} ({mac})")
            self.gratuitous_arp()
            self.log("INFO", "udp", f"UDP layer connected on {self.ip.ip}")
            self.log("INFO", "tcp.pcb", f"TCP layer connected on {self.ip.ip}")
            self.log("INFO", "tcpip-stack-direct", f"stack assembled: mac={mac},ip={self.ip.ip}")
        for entry in self.spec.get("logs", []):
            self.log(entry.get("level", "INFO"), entry.get("src", "application"), entry["msg"])
        crash = self.spec.get("crash")
        if crash == "abort":
            self.solo5("solo5_abort() called")
            sys.exit(255)
        if crash == "trap":
            self.solo5("trap: type=#PF ec=0x2 rip=0x104022 rsp=0x3ffffe0 rflags=0x10006")
            self.solo5("trap: cr2=0x8")
            self.solo5("ABORT: cpu_x86_64.c:182: Fatal trap")
            sys.exit(255)
        if crash:
            self.out(f'Fatal error: exception Failure("{crash}")\n')
            self.exit(255)
        if "exit" in self.spec and self.spec.get("exit_after") is None:
            self.exit(int(self.spec["exit"]))
        self.run()

    def parse_args(self) -> None:
        """MirageOS runtime arguments: --ipv4 and friends; anything unknown is exit 64."""
        known = (
            "--ipv4=",
            "--ipv4-gateway=",
            "--ipv6=",
            "--ipv4-only",
            "-l",
            "--logs=",
            "--accept-router-advertisements",
            "--solo5:quiet",
        )
        for i, arg in enumerate(self.args):
            if arg in ("--help", "--version"):
                self.out(f"{self.name}: MirageOS unikernel (lab double)\n")
                self.exit(63)
            if arg.startswith("--ipv4="):
                try:
                    self.ip = ipaddress.IPv4Interface(arg.split("=", 1)[1])
                except ValueError:
                    self.out(f"{self.name}: option '--ipv4': invalid value '{arg[7:]}'\n")
                    self.exit(64)
            elif not arg.startswith(known) and not (i and self.args[i - 1] == "-l"):
                self.out(
                    f"{self.name}: unknown option '{arg}'.\n"
                    f"Usage: {self.name} [OPTION]…\n"
                    f"Try '{self.name} --help' for more information.\n"
                )
                self.exit(64)

    def gratuitous_arp(self) -> None:
        """Announce our (new, per-boot) MAC, as mirage-tcpip does: hosts update their cache."""
        fd = next(iter(self.nets.values()), None)
        if fd is None:
            return
        ip = self.ip.ip.packed
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + self.mac + ip + b"\x00" * 6 + ip
        with contextlib.suppress(OSError):  # nobody on the tap yet: ARP replies will do
            os.write(fd, b"\xff" * 6 + self.mac + b"\x08\x06" + arp)

    # The network: ARP, ICMP echo and a little TCP with HTTP on top, on the first tap.
    def run(self) -> None:
        fd = next(iter(self.nets.values()), None)
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
            ready = select.select([fd] if fd is not None else [], [], [], timeout)[0]
            if ready:
                for _ in range(64):
                    try:
                        frame = os.read(fd, 2048)
                    except BlockingIOError:
                        break
                    self.frame(fd, frame)
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.exit(int(self.spec.get("exit", 0)))
            if spam and now >= next_spam:
                # Lines in bursts every 10 ms at the asked rate; one write per burst.
                batch = max(1, int(spam["rate"]) // 100)
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S-00:00", time.gmtime())
                lines = "".join(f"{stamp}: [INFO] [spam] line {sent + i}\n" for i in range(batch))
                self.out(lines)
                sent += batch
                next_spam += 0.01
                if spam.get("count") and sent >= int(spam["count"]):
                    spam = None

    def frame(self, fd: int, frame: bytes) -> None:
        if len(frame) < 14:
            return
        dst, src, etype = frame[:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
        if dst not in (self.mac, b"\xff" * 6):
            return
        if etype == 0x0806 and len(frame) >= 42:
            op = struct.unpack("!H", frame[20:22])[0]
            sha, spa, tpa = frame[22:28], frame[28:32], frame[38:42]
            if op == 1 and tpa == self.ip.ip.packed:
                arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + self.mac + tpa + sha + spa
                os.write(fd, src + self.mac + b"\x08\x06" + arp)
        elif etype == 0x0800 and len(frame) >= 34:
            ip = frame[14:]
            ihl = (ip[0] & 0xF) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            proto, saddr, daddr = ip[9], ip[12:16], ip[16:20]
            if daddr != self.ip.ip.packed:
                return
            payload = ip[ihl:total]
            if proto == 1 and payload[:1] == b"\x08":
                reply = b"\x00\x00" + b"\x00\x00" + payload[4:]
                reply = reply[:2] + struct.pack("!H", csum(reply)) + reply[4:]
                self.send_ip(fd, src, saddr, 1, reply)
            elif proto == 6:
                self.tcp(fd, src, saddr, payload)

    def send_ip(self, fd: int, mac: bytes, daddr: bytes, proto: int, payload: bytes) -> None:
        head = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            random.randrange(65536),
            0x4000,
            64,
            proto,
            0,
            self.ip.ip.packed,
            daddr,
        )
        head = head[:10] + struct.pack("!H", csum(head)) + head[12:]
        os.write(fd, mac + self.mac + b"\x08\x00" + head + payload)

    def send_tcp(self, fd: int, c: dict, flags: int, data: bytes = b"") -> None:
        seg = (
            struct.pack(
                "!HHIIBBHHH", c["lport"], c["rport"], c["snd"], c["rcv"], 5 << 4, flags, 65535, 0, 0
            )
            + data
        )
        pseudo = self.ip.ip.packed + c["raddr"] + struct.pack("!BBH", 0, 6, len(seg))
        seg = seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]
        self.send_ip(fd, c["mac"], c["raddr"], 6, seg)
        c["snd"] = (c["snd"] + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    def tcp(self, fd: int, mac: bytes, saddr: bytes, seg: bytes) -> None:
        if len(seg) < 20:
            return
        sport, dport, seq, _ack, off, flags = struct.unpack("!HHIIBB", seg[:14])
        data = seg[(off >> 4) * 4 :]
        key = (saddr, sport, dport)
        c = self.conns.get(key)
        if flags & 0x04:  # RST
            self.conns.pop(key, None)
            return
        if flags & 0x02:  # SYN
            c = {
                "lport": dport,
                "rport": sport,
                "raddr": saddr,
                "mac": mac,
                "snd": random.randrange(1 << 32),
                "rcv": (seq + 1) & 0xFFFFFFFF,
                "buf": b"",
                "fin_sent": False,
            }
            if dport not in self.ports:
                self.send_tcp(fd, c, 0x14)  # RST+ACK: connection refused
                return
            self.conns[key] = c
            self.send_tcp(fd, c, 0x12)  # SYN+ACK
            return
        if c is None:
            return
        if data and seq == c["rcv"]:
            c["rcv"] = (c["rcv"] + len(data)) & 0xFFFFFFFF
            c["buf"] += data
            self.send_tcp(fd, c, 0x10)
            if b"\r\n\r\n" in c["buf"] and not c["fin_sent"]:
                self.http(fd, c)
        if flags & 0x01:  # FIN
            c["rcv"] = (c["rcv"] + 1) & 0xFFFFFFFF
            if not c["fin_sent"]:
                self.send_tcp(fd, c, 0x11)
                c["fin_sent"] = True
            else:
                self.send_tcp(fd, c, 0x10)
            self.conns.pop(key, None)

    def http(self, fd: int, c: dict) -> None:
        line = c["buf"].split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split()
        path = parts[1] if len(parts) > 1 else "/"
        routes = self.ports[c["lport"]].get("http", {})
        status, body = routes.get(path, [404, "not found\n"])
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
        self.log("INFO", "http", f"{parts[0] if parts else '?'} {path} {status}")
        body_b = body.encode()
        resp = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body_b)}\r\n"
            "Content-Type: text/plain\r\nConnection: close\r\n\r\n"
        ).encode() + body_b
        self.send_tcp(fd, c, 0x18, resp)
        self.send_tcp(fd, c, 0x11)
        c["fin_sent"] = True


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# --- the tender --------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    warnx("WARNING: this is the workbench lab double of solo5-hvt v0.12.1, not the real tender")
    rest = argv
    while rest and rest[0].startswith("-"):
        if rest[0] == "--":
            rest = rest[1:]
            break
        if rest[0] == "--help":
            usage()
        if rest[0] == "--version":
            sys.stderr.write(f"{PROG} tender, version v0.12.1\nABI version 2\n")
            sys.exit(0)
        rest = rest[1:]
    if not rest:
        warnx("Missing KERNEL operand")
        usage()
    kernel, guest_args = rest[0], rest[1:]
    options = argv[: len(argv) - len(rest)]
    if options and options[-1] == "--":
        options = options[:-1]
    try:
        os.close(os.open(kernel, os.O_RDONLY))
    except OSError as exc:
        errx(f"{kernel}: Could not open: {exc.strerror}")
    notes, sections, machine = read_notes(kernel)
    if machine != {"x86_64": 62, "aarch64": 183}.get(os.uname().machine):
        # The real elf_load_note() refuses an ELF for another machine the same way.
        errx(
            f"{kernel}: invalid executable: invalid or unsupported executable "
            "(elf header invalid while loading note)"
        )
    if ABI1 not in notes:
        errx(f"{kernel}: No Solo5 ABI information found in executable")
    target, version = struct.unpack_from("<II", notes[ABI1])
    if ABI_TARGETS.get(target) != TARGET:
        errx(f"{kernel}: Executable is not for the solo5-{TARGET} target")
    if version != 2:
        errx(f"{kernel}: Executable requests unsupported ABI version {version}")
    if MFT1 not in notes:
        errx(f"{kernel}: No Solo5 manifest found in executable")
    devices = dict(manifest_devices(notes[MFT1], kernel))

    mem_mb = 512
    nets: dict[str, int] = {}
    blocks: dict[str, str] = {}
    for opt in options:
        if opt.startswith("--mem="):
            digits = ""
            for ch in opt[6:]:  # sscanf("%zd"): leading digits, the rest ignored
                if not ch.isdigit():
                    break
                digits += ch
            if not digits or int(digits) <= 0:
                errx("Malformed argument to --mem")
            mem_mb = int(digits)
            continue
        handled = False
        if opt.startswith("--net:") and "=" in opt:
            name, iface = opt[6:].split("=", 1)
            if devices.get(name) != "NET_BASIC":
                warnx(f"Resource not declared in manifest: '{name}'")
            else:
                try:
                    nets[name] = tap_attach(iface)
                    handled = True
                except OSError as exc:
                    shown = iface[:19] if exc.errno == errno.ENAMETOOLONG else iface
                    warnx(f"Could not attach interface: {shown}: {os.strerror(exc.errno)}")
        elif opt.startswith("--block:") and "=" in opt:
            name, path = opt[8:].split("=", 1)
            if devices.get(name) != "BLOCK_BASIC":
                warnx(f"Resource not declared in manifest: '{name}'")
                warnx(f"Resource not declared in manifest: '{name}'")
            else:
                blocks[name] = path
                handled = True
        elif opt.startswith(("--net-mac:", "--block-sector-size:")):
            handled = opt.split(":", 1)[1].split("=", 1)[0] in devices
        if not handled:
            warnx(f"Invalid option: `{opt}'")
            usage()

    mem_bytes = mem_mb * 1024 * 1024
    aligned = max(mem_bytes - mem_bytes % (2 << 20), 2 << 20)
    if aligned != mem_bytes:
        warnx(f"adjusting memory to {aligned} bytes")
    if aligned > MAX_MEM:
        errx(f"guest memory size {aligned} bytes exceeds the max size {MAX_MEM} bytes")
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as exc:
        errx(f"Could not open: /dev/kvm: {exc.strerror}")
    for path in blocks.values():
        try:
            os.close(os.open(path, os.O_RDWR))
        except OSError as exc:
            errx(f"Could not open block device: {path}: {exc.strerror}")
    missing = [(n, t) for n, t in devices.items() if n not in nets and n not in blocks]
    for name, kind in missing:
        warnx(f"Device '{name}' of type {kind} declared but not attached.")
    if missing:
        errx("All declared devices must be attached. See --help for syntax.")

    def on_signal(signum: int, _frame: object) -> None:
        warnx(f"Exiting on signal {signum}")
        os._exit(1)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    spec = json.loads(sections.get(".workbench.lab.guest", b"{}") or b"{}")
    quiet = "--solo5:quiet" in guest_args
    name = os.path.basename(kernel).rsplit(".", 1)[0]
    guest_args = [a for a in guest_args if a != "--solo5:quiet"]
    Guest(spec, name, guest_args, aligned >> 20, nets, quiet).boot()


if __name__ == "__main__":
    main(sys.argv[1:])
