#!/usr/bin/env bash
# The response cache's hit path through switchyard-gateway: the same
# request (temperature 0) over and over, to a route with a cache (every
# request after the first is a hit: the mock is not asked) and to one
# without (every request goes to the mock). Numbers, never pass/fail.
# Installs nothing (scripts/install-deps.sh brings wrk); starts everything on
# 127.0.0.1 with OS-chosen ports and stops what it started by PID.
#
#   1. wrk, WRK_THREADS threads, CONNECTIONS connections, DURATION each:
#      requests/s and the gateway's CPU µs per request (utime + stime from
#      /proc/PID/stat over the run / requests), the mock's too;
#   2. bench-http_latency at 1 connection: p50/p99 of both routes.
#
# usage: bench/gateway_cache.sh [BUILD_DIR]
#   needs BUILD_DIR/bin/{switchyard-mock,switchyard-gateway,bench-http_latency}
# environment (defaults): DURATION=10s CONNECTIONS=64 WRK_THREADS=2
#   WORKERS=2 (gateway --threads) MOCK_THREADS=2 REQUESTS=5000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
wrk_threads="${WRK_THREADS:-2}"
workers="${WORKERS:-2}"
mock_threads="${MOCK_THREADS:-2}"
requests="${REQUESTS:-5000}"

die() { echo "gateway_cache.sh: $*" >&2; exit 2; }
for bin in switchyard-mock switchyard-gateway bench-http_latency; do
  [[ -x "$build/bin/$bin" ]] || die "no $build/bin/$bin (cmake --build $build --target $bin)"
done
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh)"

tmp="$(mktemp -d /tmp/switchyard-cache-bench-XXXXXX)"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # out-file pid: prints the port of `listening on 127.0.0.1:PORT`
  local out="$1" pid="$2" port=""
  for _ in $(seq 200); do
    port="$(sed -n '1s/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")"
    [[ -n "$port" ]] && { echo "$port"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$(basename "$out" .out) did not start; stderr:" >&2
  cat "${out%.out}.err" >&2 || true
  return 1
}

"$build/bin/switchyard-mock" --port 0 --threads "$mock_threads" \
  >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
pids+=("$mock_pid")
mock_port="$(wait_port "$tmp/mock.out" "$mock_pid")"

cat >"$tmp/gateway.json" <<EOF
{
  "providers": {
    "mock": { "kind": "openai_chat", "base_url": "http://127.0.0.1:$mock_port" }
  },
  "deployments": {
    "mock-gpt": { "provider": "mock", "model": "gpt-4o-mini" }
  },
  "routes": {
    "cached": { "targets": ["mock-gpt"],
                "cache": { "enabled": true, "ttl_ms": 3600000 } },
    "plain": { "targets": ["mock-gpt"] }
  },
  "engine": { "transport": { "max_host_connections": 256 } }
}
EOF
"$build/bin/switchyard-gateway" --config "$tmp/gateway.json" \
  --listen 127.0.0.1:0 --threads "$workers" \
  >"$tmp/gateway.out" 2>"$tmp/gateway.err" &
gateway_pid=$!
pids+=("$gateway_pid")
gateway_port="$(wait_port "$tmp/gateway.out" "$gateway_pid")"
url="http://127.0.0.1:$gateway_port/v1/chat/completions"

body() { # route
  echo "{\"model\":\"$1\",\"temperature\":0,\"max_tokens\":32,\"messages\":[{\"role\":\"user\",\"content\":\"Say hello to the benchmark\"}]}"
}
for route in cached plain; do
  cat >"$tmp/$route.lua" <<EOF
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$(body "$route")'
EOF
done
hdr="$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d "$(body cached)" "$url" | tr -d '\r' | sed -n 's/^x-switchyard-cache: //p')"
[[ "$hdr" = miss ]] || die "first cached request said x-switchyard-cache: '$hdr'"
hdr="$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d "$(body cached)" "$url" | tr -d '\r' | sed -n 's/^x-switchyard-cache: //p')"
[[ "$hdr" = hit ]] || die "second cached request said x-switchyard-cache: '$hdr'"

hz="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
mock_requests() { curl -s "http://127.0.0.1:$mock_port/mock/stats" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }

echo "== response cache through switchyard-gateway ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gateway --threads $workers; mock --threads $mock_threads; wrk -t$wrk_threads -c$connections -d$duration"
printf '%-8s %10s %16s %16s %14s\n' route "req/s" "gateway us/req" "mock us/req" "mock requests"
for route in cached plain; do
  g0="$(ticks "$gateway_pid")"; m0="$(ticks "$mock_pid")"; r0="$(mock_requests)"
  report="$(wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s "$tmp/$route.lua" "http://127.0.0.1:$gateway_port")"
  g1="$(ticks "$gateway_pid")"; m1="$(ticks "$mock_pid")"; r1="$(mock_requests)"
  n="$(awk '/requests in/ {print $1}' <<<"$report")"
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$report")"
  awk -v r="$route" -v rps="$rps" -v g="$((g1 - g0))" -v m="$((m1 - m0))" -v hz="$hz" -v n="$n" -v up="$((r1 - r0))" \
    'BEGIN { printf "%-8s %10s %16.2f %16.2f %14d\n", r, rps, g * 1e6 / hz / n, m * 1e6 / hz / n, up }'
done
echo
echo "latency at 1 connection (bench-http_latency, $requests requests per route)"
"$build/bin/bench-http_latency" --requests "$requests" --body "$(body cached)" \
  --target "cached=$url" | sed 's/^/  /'
"$build/bin/bench-http_latency" --requests "$requests" --body "$(body plain)" \
  --target "plain=$url" | sed 's/^/  /'
