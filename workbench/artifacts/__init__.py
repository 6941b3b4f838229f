"""Solo5 artifacts: ELF inspection of .hvt/.spt files and the tender they run under."""

from workbench.artifacts.elf import AbiInfo, ArtifactInfo, Device, inspect, require_target
from workbench.artifacts.tender import TenderVersion, parse_tender_version, tender_argv

__all__ = [
    "AbiInfo",
    "ArtifactInfo",
    "Device",
    "TenderVersion",
    "inspect",
    "parse_tender_version",
    "require_target",
    "tender_argv",
]
