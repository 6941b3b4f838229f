#!/usr/bin/env bash
# The main job on the local lab: bring the lab up, build examples/hello on the lab builder,
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

say "building examples/hello on the lab builder, in the lab's OPAM/MirageOS image DOUBLE"
tar -C examples/hello -c . | $wb lab ssh builder -- '
  set -e; d=$(mktemp -d); tar -C $d -x; chmod -R a+rwX $d
  docker run --rm -v $d:/home/opam/src -v workbench-opam:/home/opam/.opam \
    -w /home/opam/src workbench-lab/opam-double:latest sh -c "
      opam install -y mirage >/dev/null && mirage configure -t hvt &&
      make depend >/dev/null && make build && cp \$(opam var bin)/solo5-hvt dist/" >&2
  tar -C $d/dist -c hello.hvt solo5-hvt' | tar -C "$demo" -x
$wb inspect "$demo/hello.hvt"

say "check: what the target offers"
$wb check --profile lab

say "deploy (the tender is the lab's solo5-hvt DOUBLE; everything else is real)"
$wb deploy --profile lab --artifact "$demo/hello.hvt" --tender "$demo/solo5-hvt"

say "deploy again: nothing changed, so nothing is written and nothing restarted"
$wb deploy --profile lab --artifact "$demo/hello.hvt" --tender "$demo/solo5-hvt" --quiet

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
