"""Profiles: YAML files describing hosts, the unikernel, its network, service and health check."""

from workbench.profiles.loader import LoadedProfile, discover, find, load, load_file
from workbench.profiles.models import Host, Profile

__all__ = ["Host", "LoadedProfile", "Profile", "discover", "find", "load", "load_file"]
