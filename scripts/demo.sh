#!/usr/bin/env bash
# The main job on the local lab. Today: what workbench would install on the lab target, for a
# unikernel built by the lab's build double. `workbench lab up` and `workbench deploy` join this
# script as they land (issues 3 and 4); nothing here pretends to deploy before then.
set -euo pipefail
cd "$(dirname "$0")/.."
wb=.venv/bin/workbench
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT

echo "== profiles"
$wb profiles
echo
echo "== a unikernel as the lab's build double writes it (a valid Solo5 ELF, not a MirageOS build)"
.venv/bin/python workbench/lab/solo5elf.py "$demo/hello.hvt" "$(uname -m)" hvt service:NET_BASIC
$wb inspect "$demo/hello.hvt"
echo
echo "== every file deploy would install on the lab target"
$wb render --profile lab --artifact "$demo/hello.hvt"
