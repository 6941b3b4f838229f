#!/usr/bin/env bash
# The main job on the local lab. Today: bring the lab up (real hosts: a booted Debian target
# and a builder with dockerd), build the example with the lab's build image, and show what
# workbench would install on the target. `workbench deploy` joins this script when it lands
# (issue 4); nothing here pretends to deploy before then.
set -euo pipefail
cd "$(dirname "$0")/.."
wb=.venv/bin/workbench
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT

echo "== the lab (first run builds its Debian rootfs, ~1 min; then ~10 s)"
$wb lab up
echo
echo "== building examples/hello on the lab builder with the lab's OPAM/MirageOS double"
tar -C examples/hello -c . | $wb lab ssh builder -- '
  set -e; d=$(mktemp -d); tar -C $d -x; chmod -R a+rwX $d
  docker run --rm -v $d:/home/opam/src -w /home/opam/src workbench-lab/opam-double:latest \
    sh -c "opam install -y mirage >/dev/null && mirage configure -t hvt && make depend >/dev/null && make build" >&2
  cat $d/dist/hello.hvt' >"$demo/hello.hvt"
$wb inspect "$demo/hello.hvt"
echo
echo "== every file deploy would install on the lab target"
$wb render --profile lab --artifact "$demo/hello.hvt"
