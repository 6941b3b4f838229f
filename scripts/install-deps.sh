#!/usr/bin/env bash
# Install what workbench and its test suite need on Debian 12, then the Python environment.
# Idempotent and quick when everything is present: apt runs only for missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# systemd: systemd-analyze verifies rendered units; nftables: the NAT rules are loaded in a
# throwaway namespace; iproute2/util-linux: ip and unshare for namespaces.
APT_PACKAGES=(systemd nftables iproute2 util-linux python3-venv)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $EUID -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.workbench-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import workbench, textual, asyncssh, docker, elftools, pydantic, yaml'
  touch "$stamp"
fi
