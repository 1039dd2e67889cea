#!/usr/bin/env bash
# Load-tests switchyard-mock with wrk: 2 threads, 64 keep-alive connections,
# small non-streaming chat requests. Prints req/s and the mock's CPU time per
# request (utime + stime from /proc/PID/stat). Numbers, not pass/fail.
#
# usage: bench/mock_wrk.sh [BUILD_DIR] [extra mock args...]
#   e.g. bench/mock_wrk.sh build-mock --threads 2
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
shift || true
mock="$build/bin/switchyard-mock"
duration="${DURATION:-10s}"
[[ -x "$mock" ]] || { echo "no $mock (build target switchyard-mock)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 2; }

out="$(mktemp)"
"$mock" --port 0 "$@" >"$out" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do
  grep -q '^listening on' "$out" && break
  sleep 0.05
done
port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")"
[[ -n "$port" ]] || { echo "mock did not report its port" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
before="$(cpu_ticks)"
report="$(wrk -t2 -c64 -d"$duration" -s "$here/mock_chat.lua" \
  "http://127.0.0.1:$port")"
after="$(cpu_ticks)"
echo "$report"
requests="$(echo "$report" | awk '/requests in/ {print $1}')"
rps="$(echo "$report" | awk '/^Requests\/sec/ {print $2}')"
cpu_us_per_req="$(awk -v a="$after" -v b="$before" -v hz="$hz" -v n="$requests" \
  'BEGIN { if (n > 0) printf "%.2f", (a - b) * 1e6 / hz / n; else print "n/a" }')"
echo "mock: $rps req/s, ${cpu_us_per_req} us CPU per request ($requests requests, mock args: ${*:-none})"
kill -TERM "$pid"
wait "$pid" && echo "mock stopped cleanly (exit 0)"
trap 'rm -f "$out"' EXIT
