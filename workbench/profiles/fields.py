"""Constrained field types for profile values that later reach a command line or a file.

Everything here is checked when the profile loads, so nothing further down (argv builders,
unit and network templates, remote commands) has to wonder whether a value is safe to use.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

IFNAMSIZ = 16  # Linux: 15 characters plus the terminating NUL


def _interface_name(value: str) -> str:
    if len(value) > IFNAMSIZ - 1:
        raise ValueError(
            f"'{value}' is {len(value)} characters; Linux interface names are at most 15"
        )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
        raise ValueError(
            f"'{value}' is not a safe interface name (use letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    return value


# Names a host's own interfaces have: a tap or bridge of that name would have deploy re-create,
# `ifdown` or enslave the host's loopback or uplink (as root, outside the dead man's switch).
_HOST_INTERFACE = re.compile(r"lo|(eth|wlan|usb)[0-9]+|(en|wl|ww)[a-z0-9]+|bond[0-9]+")


def _virtual_interface_name(value: str) -> str:
    _interface_name(value)
    if _HOST_INTERFACE.fullmatch(value):
        raise ValueError(
            f"'{value}' is a name the host's own interfaces use (loopback or a NIC); "
            "taps and bridges need their own names, e.g. tap100, br100"
        )
    return value


def _unit_name(value: str) -> str:
    if value.startswith("-"):
        raise ValueError(f"'{value}' starts with '-', which systemctl would read as an option")
    if "@" in value:
        raise ValueError(f"'{value}': template units (NAME@INSTANCE) are not supported")
    stem = value.removesuffix(".service")
    if not stem or len(stem) > 247 or not re.fullmatch(r"[A-Za-z0-9:_.\\-]+", stem):
        raise ValueError(
            f"'{value}' is not a valid systemd service name (letters, digits, ':', '_', '.', "
            "'-', '\\', ending in .service)"
        )
    return f"{stem}.service"


# Remote paths end up in unit files and argv lists. systemd's ExecStart splits on whitespace and
# treats '%' and '$' specially, so the charset is kept plain rather than escaped everywhere.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._/+@-]*")


def _remote_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must be an absolute path on the remote host")
    if not _SAFE_PATH.fullmatch(value):
        raise ValueError(
            f"'{value}' contains characters that are unsafe in a unit file "
            "(use letters, digits and . _ / + @ -)"
        )
    if any(part == ".." for part in value.split("/")):
        raise ValueError(f"'{value}' must not contain '..'")
    return value.rstrip("/") or "/"


def _interface_cidr(value: str) -> str:
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an address with a prefix, e.g. 10.0.0.1/24") from None
    if "/" not in value:
        raise ValueError(f"'{value}' needs a prefix length, e.g. {value}/24")
    if iface.network.prefixlen == iface.max_prefixlen:
        raise ValueError(f"'{value}' is a single-host prefix; a bridge needs a subnet (e.g. /24)")
    return str(iface)


def _hostname(value: str) -> str:
    if "%" in value:
        raise ValueError(
            f"'{value}': IPv6 zone ids (%IFACE) are not supported; use a routable address or "
            "an alias from ~/.ssh/config"
        )
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if len(value) > 253 or not re.fullmatch(
        r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?", value
    ):
        raise ValueError(f"'{value}' is not a host name or IP address")
    return value


def _user_name(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}\$?", value):
        raise ValueError(f"'{value}' is not a valid user or group name")
    return value


_MEM_SUFFIX = re.compile(r"\s*(\d+)\s*([KMGT])(?:i?B)?\s*", re.IGNORECASE)
_MIB_PER = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def _memory_mib(value: object) -> object:
    """Accept a whole number of MiB. Refuse suffixes loudly.

    The real tender parses --mem with sscanf("%zd"), so `--mem=64M` is 64 MiB and `--mem=1G` is
    1 MiB. Accepting "1G" here would be a silent misconfiguration; say what to write instead.
    """
    if isinstance(value, bool):
        raise ValueError("memory must be a whole number of MiB")
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.isdigit():
            return int(stripped)
        match = _MEM_SUFFIX.fullmatch(value)
        if match:
            number, unit = int(match.group(1)), match.group(2).upper()
            mib = number * _MIB_PER[unit]
            fix = f"write {int(mib)}" if mib == int(mib) and mib >= 1 else "use whole MiB"
            raise ValueError(
                f"'{value}' has a unit suffix; memory is in MiB, so {fix} "
                f"(solo5-hvt ignores suffixes: --mem={value.strip()} would boot with {number} MiB)"
            )
        raise ValueError(f"'{value}' is not a whole number of MiB")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{value} is not a whole number of MiB")
        return int(value)
    return value


_SIZE = re.compile(r"\s*([0-9]{1,12})\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
_SIZE_UNIT = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _block_size(value: object) -> object:
    """A block image size: bytes, or a number with K/M/G/T (powers of 1024). Solo5 refuses a
    backing file that is not a whole number of 512-byte sectors, or smaller than one."""
    if isinstance(value, bool):
        raise ValueError("a size is bytes, or a number with K, M, G or T (e.g. 64M)")
    if isinstance(value, str):
        match = _SIZE.fullmatch(value)
        if not match:
            raise ValueError(f"'{value}' is not a size: write bytes, or e.g. 64M or 1G")
        value = int(match.group(1)) * _SIZE_UNIT[match.group(2).upper()]
    if not isinstance(value, int):
        raise ValueError("a size is bytes, or a number with K, M, G or T (e.g. 64M)")
    if value > 1 << 50:
        raise ValueError(f"{value} bytes is more than 1 PiB: write a size a disk can hold")
    if value < 512 or value % 512:
        raise ValueError(
            f"{value} bytes is not a whole number of 512-byte sectors (at least one): "
            "solo5-hvt refuses it ('Backing storage size must be block aligned')"
        )
    return value


def _boot_arg(value: str) -> str:
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029" for ch in value):
        raise ValueError("boot arguments must not contain control characters (newline, tab, ESC)")
    if value.startswith("--ipv4="):
        _interface_cidr(value.removeprefix("--ipv4="))
    elif value.startswith("--ipv4-gateway="):
        try:
            ipaddress.IPv4Address(value.removeprefix("--ipv4-gateway="))
        except ValueError:
            raise ValueError(f"'{value}': the gateway must be an IPv4 address") from None
    return value


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv4 address") from None


def _ip_address(value: str) -> str:
    if "%" in value:
        raise ValueError(f"'{value}': IPv6 zone ids (%IFACE) are not supported")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not an IP address (such as 10.0.0.2)") from None


def _device_name(value: str) -> str:
    # Solo5 manifest names: alphanumeric, 1..67 characters (MFT_NAME_MAX).
    if not re.fullmatch(r"[A-Za-z0-9]{1,67}", value):
        raise ValueError(f"'{value}' is not a Solo5 device name (1-67 letters or digits)")
    return value


InterfaceName = Annotated[str, AfterValidator(_interface_name)]
VirtualInterfaceName = Annotated[str, AfterValidator(_virtual_interface_name)]
IPAddress = Annotated[str, AfterValidator(_ip_address)]
UnitName = Annotated[str, AfterValidator(_unit_name)]
RemotePath = Annotated[str, AfterValidator(_remote_path)]
InterfaceCIDR = Annotated[str, AfterValidator(_interface_cidr)]
HostName = Annotated[str, AfterValidator(_hostname)]
UserName = Annotated[str, AfterValidator(_user_name)]
MemoryMiB = Annotated[int, BeforeValidator(_memory_mib)]
BlockSize = Annotated[int, BeforeValidator(_block_size)]
BootArg = Annotated[str, AfterValidator(_boot_arg)]
DeviceName = Annotated[str, AfterValidator(_device_name)]
IPv4Gateway = Annotated[str, AfterValidator(_ipv4)]
