"""LAB TEST DOUBLE: the network side of the guest double (solo5_hvt.py). Not MirageOS.

ARP, ICMP echo and a little TCP with HTTP on top, on one tap descriptor, from the MAC the tender
handed over (--net-mac: or the tender's random one), so replies come from where a real
unikernel's would. Standard library only; no sockets (the tender's seccomp filter has none).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import struct
from collections.abc import Callable

BROADCAST = b"\xff" * 6


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class Net:
    """One network device: `fd` is the tap, `mac` our address, `ports` what listens (port ->
    {"http": {path: [status, body]}}); `log(msg)` records a request as an [http] line."""

    def __init__(
        self,
        fd: int,
        mac: bytes,
        ip: ipaddress.IPv4Interface,
        ports: dict[int, dict],
        log: Callable[[str], None],
    ) -> None:
        self.fd, self.mac, self.ip, self.ports, self.log = fd, mac, ip, ports, log
        self.conns: dict[tuple, dict] = {}

    def gratuitous_arp(self) -> None:
        """Announce our MAC as mirage-tcpip's ARP does at start: hosts update their cache."""
        ip = self.ip.ip.packed
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + self.mac + ip + b"\x00" * 6 + ip
        with contextlib.suppress(OSError):  # nobody on the tap yet: ARP replies will do
            os.write(self.fd, BROADCAST + self.mac + b"\x08\x06" + arp)

    def poll(self) -> None:
        for _ in range(64):
            try:
                frame = os.read(self.fd, 2048)
            except BlockingIOError:
                return
            self.frame(frame)

    def frame(self, frame: bytes) -> None:
        if len(frame) < 14:
            return
        dst, src, etype = frame[:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
        if dst not in (self.mac, BROADCAST):
            return
        if etype == 0x0806 and len(frame) >= 42:
            op = struct.unpack("!H", frame[20:22])[0]
            sha, spa, tpa = frame[22:28], frame[28:32], frame[38:42]
            if op == 1 and tpa == self.ip.ip.packed:
                arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + self.mac + tpa + sha + spa
                os.write(self.fd, src + self.mac + b"\x08\x06" + arp)
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
                self.send_ip(src, saddr, 1, reply)
            elif proto == 6:
                self.tcp(src, saddr, payload)

    def send_ip(self, mac: bytes, daddr: bytes, proto: int, payload: bytes) -> None:
        head = struct.pack(
            "!BBHHHBBH4s4s",
            *(0x45, 0, 20 + len(payload), random.randrange(65536), 0x4000, 64, proto, 0),
            *(self.ip.ip.packed, daddr),
        )
        head = head[:10] + struct.pack("!H", csum(head)) + head[12:]
        os.write(self.fd, mac + self.mac + b"\x08\x00" + head + payload)

    def send_tcp(self, c: dict, flags: int, data: bytes = b"") -> None:
        fields = (c["lport"], c["rport"], c["snd"], c["rcv"], 5 << 4, flags, 65535, 0, 0)
        seg = struct.pack("!HHIIBBHHH", *fields) + data
        pseudo = self.ip.ip.packed + c["raddr"] + struct.pack("!BBH", 0, 6, len(seg))
        seg = seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]
        self.send_ip(c["mac"], c["raddr"], 6, seg)
        c["snd"] = (c["snd"] + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    def tcp(self, mac: bytes, saddr: bytes, seg: bytes) -> None:
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
            c = {"lport": dport, "rport": sport, "raddr": saddr, "mac": mac, "buf": b""}
            c |= {"snd": random.randrange(1 << 32), "rcv": (seq + 1) & 0xFFFFFFFF}
            c["fin_sent"] = False
            if dport not in self.ports:
                self.send_tcp(c, 0x14)  # RST+ACK: connection refused
                return
            self.conns[key] = c
            self.send_tcp(c, 0x12)  # SYN+ACK
            return
        if c is None:
            return
        if data and seq == c["rcv"]:
            c["rcv"] = (c["rcv"] + len(data)) & 0xFFFFFFFF
            c["buf"] += data
            self.send_tcp(c, 0x10)
            if b"\r\n\r\n" in c["buf"] and not c["fin_sent"]:
                self.http(c)
        if flags & 0x01:  # FIN
            c["rcv"] = (c["rcv"] + 1) & 0xFFFFFFFF
            self.send_tcp(c, 0x10 if c["fin_sent"] else 0x11)
            c["fin_sent"] = True
            self.conns.pop(key, None)

    def http(self, c: dict) -> None:
        line = c["buf"].split(b"\r\n", 1)[0].decode(errors="replace")
        parts = line.split()
        path = parts[1] if len(parts) > 1 else "/"
        routes = self.ports[c["lport"]].get("http", {})
        status, body = routes.get(path, [404, "not found\n"])
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "Status")
        self.log(f"{parts[0] if parts else '?'} {path} {status}")
        body_b = body.encode()
        resp = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body_b)}\r\n"
            "Content-Type: text/plain\r\nConnection: close\r\n\r\n"
        ).encode() + body_b
        self.send_tcp(c, 0x18, resp)
        self.send_tcp(c, 0x11)
        c["fin_sent"] = True
