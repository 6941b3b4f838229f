#!/usr/bin/env bash
# The main job on the local lab: bring the lab up, build workbench/examples/hello on the lab builder,
# check the target, deploy, deploy again (nothing changes), show status and the live logs.
# What is a lab double (the Solo5 tender and the OPAM/MirageOS build image) is said on screen.
set -euo pipefail
cd "$(dirname "$0")/.."
wb=.venv/bin/workbench
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "the lab (first run builds its Debian rootfs, about a minute; afterwards about 10 s)"
$wb lab up

say "build workbench/examples/hello on the lab builder (docker API over SSH), in the lab's OPAM/MirageOS image DOUBLE"
$wb build --profile lab --no-cache --output "$demo"
$wb inspect "$demo/hello.hvt"

say "check: what the target offers"
$wb check --profile lab

say "deploy from source: the build above is reused from the cache (the tender is the lab's solo5-hvt DOUBLE)"
$wb deploy --profile lab

say "deploy again: nothing changed, so nothing is built, written or restarted"
$wb deploy --profile lab --quiet

say "status"
$wb status --profile lab

say "live logs for 8 s, while the target asks the unikernel for /health twice"
( sleep 3; for i in 1 2; do
    $wb lab ssh target -- python3 -c "'import urllib.request as u; u.urlopen(\"http://10.0.0.2:8080/health\").read()'"
    sleep 1
  done ) &
timeout -s INT 8 $wb logs --profile lab --follow --lines 5 || true
wait
echo
echo "Follow them yourself with: $wb logs --profile lab --follow"
