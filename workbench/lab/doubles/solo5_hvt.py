"""LAB TEST DOUBLE of the guest side of a Solo5 v0.12.1 tender. Not the real tender.

The lab's tender double is a small static ELF (tender.c beside this file) that starts the way the
real solo5-hvt/solo5-spt starts -- arguments, the artifact's notes, taps, block files, /dev/kvm,
personality, its own seccomp filter -- and then execs this script under that filter, handing it
the attached devices:

    python3 -I SCRIPT PROG KERNEL MEM_MB NETS BLOCKS -- GUEST_ARGS...

(NETS and BLOCKS are `name=fd,...`). From here on the double plays the unikernel: the banner and
memory map the real bindings print, what the artifact's `.workbench.lab.guest` section asks for
(log lines, an exit status, a crash, listening ports), and ARP, ping and TCP/HTTP on the --ipv4
address behind the tap, so health checks cross the real tap and bridge. Guest output goes to
stdout, tender messages to stderr; SIGTERM/SIGINT end hvt with `Exiting on signal N` and exit 1
(spt installs no handler, as the real one). Standard library only; no sockets, no processes:
the seccomp filter it runs under has neither.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import select
import signal
import struct
import sys
import time

PROG = sys.argv[1] if len(sys.argv) > 1 else "solo5-hvt"  # handed over by tender.c
BANNER = (
    "            |      ___|\n"
    "  __|  _ \\  |  _ \\ __ \\\n"
    "\\__ \\ (   | | (   |  ) |\n"
    "____/\\___/ _|\\___/____/\n"
)


def warnx(msg: str) -> None:
    sys.stderr.write(f"{PROG}: {msg}\n")
    sys.stderr.flush()


# --- the artifact ------------------------------------------------------------------------------


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
            if ready and fd is not None:
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


# --- hand-over from the tender part ----------------------------------------------------------


def devices(listed: str) -> dict[str, int]:
    return {name: int(fd) for name, fd in (item.split("=") for item in listed.split(",") if item)}


def main(argv: list[str]) -> None:
    prog, kernel, mem_mb, nets, _blocks, _sep, *guest_args = argv
    stops = {signal.SIGTERM, signal.SIGINT}
    if not prog.startswith("solo5-spt"):

        def on_signal(signum: int, _frame: object) -> None:
            warnx(f"Exiting on signal {signum}")
            os._exit(1)

        for signum in stops:
            signal.signal(signum, on_signal)
    else:
        for signum in stops:
            signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)  # blocked by tender.c across the exec
    spec = guest_spec(kernel)
    quiet = "--solo5:quiet" in guest_args
    name = os.path.basename(kernel).rsplit(".", 1)[0]
    guest_args = [a for a in guest_args if a != "--solo5:quiet"]
    Guest(spec, name, guest_args, int(mem_mb), devices(nets), quiet).boot()


if __name__ == "__main__":
    main(sys.argv[1:])
