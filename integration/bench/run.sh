#!/usr/bin/env bash
# Load benchmark: baton vs the backend directly, nginx, haproxy and caddy from
# Debian's packages, driven by wrk over loopback, interleaved, in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v haproxy >/dev/null || need+=(haproxy)
command -v caddy >/dev/null || need+=(caddy)
command -v h2load >/dev/null || need+=(nghttp2-client)
if ((${#need[@]})); then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi
# Daemons from the packages may have been started by the install: this
# benchmark runs its own copies on free loopback ports.
out=$(mktemp -d)
CGO_ENABLED=0 go build -o "$out/backend" ./integration/bench/backend
CGO_ENABLED=0 go build -o "$out/baton" ./cmd/baton
go build -o "$out/proxybench" ./integration/bench/proxybench
exec "$out/proxybench" -bin "$out" "$@"
