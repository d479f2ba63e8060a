#!/usr/bin/env bash
# Overload benchmark (make bench-overload): baton at ten times what its
# backend can take, and under 1,000 slow-header clients. wrk as run.sh
# installs it; the binaries are built from the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v wrk >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 go build -o "$out/backend" ./integration/bench/backend
CGO_ENABLED=0 go build -o "$out/baton" ./cmd/baton
go build -o "$out/overload" ./integration/bench/overload
# 1,000 slow clients and their reconnects need file descriptors.
ulimit -n 8192 2>/dev/null || true
"$out/overload" -bin "$out" "$@"
