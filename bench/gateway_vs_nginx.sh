#!/usr/bin/env bash
# switchyard-gateway against nginx as a plain reverse proxy, both in front of
# the same switchyard-mock, on this machine, under the same load (issue 11's
# benchmark). Numbers, never pass/fail. Installs nothing (scripts/
# install-deps.sh brings wrk and nginx-light); starts everything on
# 127.0.0.1 with OS-chosen ports and stops what it started by PID.
#
#   1. throughput: wrk, WRK_THREADS threads, CONNECTIONS keep-alive
#      connections, DURATION each, POST /v1/chat/completions (mock_chat.lua)
#      to the mock directly, to nginx, to the gateway; with each proxy's own
#      CPU per request (utime + stime from /proc/PID/stat over the wrk run /
#      requests; nginx: the sum over its worker processes), and the
#      gateway's split by thread name (/proc/PID/task);
#   2. latency at 1 connection: bench-http_latency, REQUESTS requests per
#      target in alternating blocks, p50/p99 and what nginx and the gateway
#      add over calling the mock directly;
#   3. streaming time to first token: the same with "stream":true, STREAMS
#      streams per target, time to the first `data:` chunk with content.
#
# usage: bench/gateway_vs_nginx.sh [BUILD_DIR]
#   needs BUILD_DIR/bin/{switchyard-mock,switchyard-gateway,bench-http_latency}
# environment (defaults): DURATION=10s CONNECTIONS=64 WRK_THREADS=2
#   WORKERS=2 (nginx worker processes = gateway --threads) MOCK_THREADS=2
#   REQUESTS=5000 STREAMS=2000
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../build}" && pwd)"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-64}"
wrk_threads="${WRK_THREADS:-2}"
workers="${WORKERS:-2}"
mock_threads="${MOCK_THREADS:-2}"
requests="${REQUESTS:-5000}"
streams="${STREAMS:-2000}"

die() { echo "gateway_vs_nginx.sh: $*" >&2; exit 2; }
for bin in switchyard-mock switchyard-gateway bench-http_latency; do
  [[ -x "$build/bin/$bin" ]] || die "no $build/bin/$bin (cmake --build $build --target $bin)"
done
command -v wrk >/dev/null || die "wrk is not installed (bash scripts/install-deps.sh)"
nginx_bin="$(command -v nginx || true)"
[[ -n "$nginx_bin" ]] || nginx_bin=/usr/sbin/nginx
[[ -x "$nginx_bin" ]] || die "nginx is not installed (bash scripts/install-deps.sh installs nginx-light)"
command -v python3 >/dev/null || die "python3 is needed to pick a free port for nginx"

tmp="$(mktemp -d /tmp/switchyard-gw-bench-XXXXXX)"
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

# Waits (at most 10 s) for the first stdout line `listening on
# 127.0.0.1:PORT` of a process started with stdout to $1; prints PORT.
wait_port() {
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

# -- the mock -----------------------------------------------------------------
"$build/bin/switchyard-mock" --port 0 --threads "$mock_threads" \
  >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
pids+=("$mock_pid")
mock_port="$(wait_port "$tmp/mock.out" "$mock_pid")"

# -- the gateway: one route named like the model the clients ask for ---------
cat >"$tmp/gateway.json" <<EOF
{
  "providers": {
    "mock": { "kind": "openai_chat", "base_url": "http://127.0.0.1:$mock_port" }
  },
  "deployments": {
    "mock-gpt": { "provider": "mock", "model": "gpt-4o-mini" }
  },
  "routes": {
    "gpt-4o-mini": { "targets": ["mock-gpt"] }
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

# -- nginx: a plain reverse proxy with a keep-alive upstream ----------------
nginx_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  upstream mock {
    server 127.0.0.1:$mock_port;
    keepalive 128;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
"$nginx_bin" -e "$tmp/nginx/error.log" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
  >"$tmp/nginx.out" 2>"$tmp/nginx.err" &
nginx_pid=$!
pids+=("$nginx_pid")
for _ in $(seq 200); do
  curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/mock/stats" && break
  kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx.err" "$tmp/nginx/error.log" >&2; die "nginx did not start"; }
  sleep 0.05
done
nginx_workers() { ps -o pid= --ppid "$nginx_pid" | tr -d ' '; }
[[ "$(nginx_workers | wc -l)" -ge 1 ]] || die "no nginx worker processes"

direct_url="http://127.0.0.1:$mock_port/v1/chat/completions"
nginx_url="http://127.0.0.1:$nginx_port/v1/chat/completions"
gateway_url="http://127.0.0.1:$gateway_port/v1/chat/completions"
for url in "$direct_url" "$nginx_url" "$gateway_url"; do
  code="$(curl -s -o "$tmp/check.json" -w '%{http_code}' -H 'content-type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"check"}]}' "$url")"
  [[ "$code" = 200 ]] || die "$url answered $code: $(head -c 300 "$tmp/check.json")"
done

# -- 1. throughput and CPU per request ---------------------------------------
hz="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of the given PIDs, summed
  local sum=0 pid
  for pid in "$@"; do
    sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$sum"
}
# Per thread name of one process: utime + stime, summed ("name ticks" lines).
thread_ticks() { # pid
  local t
  for t in /proc/"$1"/task/*; do
    echo "$(tr ' ' _ <"$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)"
  done | awk 'NF == 2 { s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort
}
declare -A rps cpu_us mock_us non2xx wrk_avg
gateway_threads=""
measure() { # name url proxy-pids...
  local name="$1" url="$2"
  shift 2
  local b_proxy=0 a_proxy=0 b_mock a_mock report n
  [[ "$name" = gateway ]] && thread_ticks "$1" >"$tmp/threads-before.txt"
  [[ $# -gt 0 ]] && b_proxy="$(cpu_ticks "$@")"
  b_mock="$(cpu_ticks "$mock_pid")"
  report="$(wrk -t"$wrk_threads" -c"$connections" -d"$duration" -s "$here/mock_chat.lua" "${url%/v1/chat/completions}")"
  a_mock="$(cpu_ticks "$mock_pid")"
  [[ $# -gt 0 ]] && a_proxy="$(cpu_ticks "$@")"
  echo "$report" >"$tmp/wrk-$name.txt"
  n="$(awk '/requests in/ {print $1}' <<<"$report")"
  if [[ "$name" = gateway ]]; then
    thread_ticks "$1" >"$tmp/threads-after.txt"
    gateway_threads="$(join "$tmp/threads-before.txt" "$tmp/threads-after.txt" \
      | awk -v hz="$hz" -v n="$n" 'n > 0 && $3 > $2 { printf "%s %.1f, ", $1, ($3 - $2) * 1e6 / hz / n }')"
  fi
  rps[$name]="$(awk '/^Requests\/sec/ {print $2}' <<<"$report")"
  wrk_avg[$name]="$(awk '/^    Latency/ {print $2}' <<<"$report")"
  non2xx[$name]="$(awk '/Non-2xx/ {print $NF}' <<<"$report")"
  non2xx[$name]="${non2xx[$name]:-0}"
  per_req() { awk -v a="$1" -v b="$2" -v hz="$hz" -v n="$n" \
    'BEGIN { if (n > 0) printf "%.2f", (a - b) * 1e6 / hz / n; else print "n/a" }'; }
  mock_us[$name]="$(per_req "$a_mock" "$b_mock")"
  if [[ $# -gt 0 ]]; then cpu_us[$name]="$(per_req "$a_proxy" "$b_proxy")"; else cpu_us[$name]="-"; fi
}

echo "== switchyard-gateway vs nginx ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores;" \
  "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'), $workers workers; gateway --threads $workers;" \
  "mock --threads $mock_threads; wrk -t$wrk_threads -c$connections -d$duration"
echo
echo "throughput (wrk)..."
measure direct "$direct_url"
# nginx's workers are listed afresh: the master could have replaced one.
mapfile -t workers_now < <(nginx_workers)
measure nginx "$nginx_url" "${workers_now[@]}"
measure gateway "$gateway_url" "$gateway_pid"

echo "latency at 1 connection ($requests requests per target)..."
"$build/bin/bench-http_latency" --requests "$requests" \
  --target "direct=$direct_url" --target "nginx=$nginx_url" --target "gateway=$gateway_url" \
  >"$tmp/latency.txt"
echo "time to first token ($streams streams per target)..."
"$build/bin/bench-http_latency" --stream --requests "$streams" \
  --target "direct=$direct_url" --target "nginx=$nginx_url" --target "gateway=$gateway_url" \
  >"$tmp/ttft.txt"
col() { awk -v t="$2" -v c="$3" '$1 == t {print $c}' "$1"; }   # file target column
echo

printf '%-8s | %10s | %9s | %8s | %16s | %12s | %9s %9s | %9s %9s | %8s %8s\n' \
  target "req/s" "wrk avg" "non-2xx" "proxy CPU us/req" "mock us/req" \
  "p50 us" "p99 us" "+p50 us" "+p99 us" "TTFT p50" "+TTFT"
for t in direct nginx gateway; do
  p50="$(col "$tmp/latency.txt" "$t" 4)"; p99="$(col "$tmp/latency.txt" "$t" 6)"
  d50="$(col "$tmp/latency.txt" direct 4)"; d99="$(col "$tmp/latency.txt" direct 6)"
  f50="$(col "$tmp/ttft.txt" "$t" 4)"; df50="$(col "$tmp/ttft.txt" direct 4)"
  lat_err="$(col "$tmp/latency.txt" "$t" 3)"; ttft_err="$(col "$tmp/ttft.txt" "$t" 3)"
  [[ "$lat_err" = 0 && "$ttft_err" = 0 ]] || echo "note: $t had $lat_err latency and $ttft_err stream errors" >&2
  printf '%-8s | %10s | %9s | %8s | %16s | %12s | %9s %9s | %9s %9s | %8s %8s\n' \
    "$t" "${rps[$t]}" "${wrk_avg[$t]}" "${non2xx[$t]}" "${cpu_us[$t]}" "${mock_us[$t]}" \
    "$p50" "$p99" \
    "$(awk -v a="$p50" -v b="$d50" 'BEGIN {printf "%+.1f", a - b}')" \
    "$(awk -v a="$p99" -v b="$d99" 'BEGIN {printf "%+.1f", a - b}')" \
    "$f50" "$(awk -v a="$f50" -v b="$df50" 'BEGIN {printf "%+.1f", a - b}')"
done
echo
# Where the gateway's CPU goes (the wrk run, per thread name): sy-transport is
# the libcurl loop, caf.multiplexer CAF's workers (which also write answers to
# the client sockets), switchyard-gate and sy-gateway-io the HTTP server.
echo "gateway CPU us/req by thread: ${gateway_threads%, }"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
gw_added_p50="$(awk -v a="$(col "$tmp/latency.txt" gateway 4)" -v b="$(col "$tmp/latency.txt" direct 4)" 'BEGIN {printf "%.1f", a - b}')"
gw_added_p99="$(awk -v a="$(col "$tmp/latency.txt" gateway 6)" -v b="$(col "$tmp/latency.txt" direct 6)" 'BEGIN {printf "%.1f", a - b}')"
gw_ttft="$(awk -v a="$(col "$tmp/ttft.txt" gateway 4)" -v b="$(col "$tmp/ttft.txt" direct 4)" 'BEGIN {printf "%.1f", a - b}')"
printf '%-44s %10s   %s\n' "measure" "value" "issue 11's target"
printf '%-44s %10s   %s\n' "gateway CPU per request / nginx's" "$(ratio "${cpu_us[gateway]}" "${cpu_us[nginx]}")x" "<= 1.5x"
printf '%-44s %10s   %s\n' "gateway throughput / nginx's (64 conns)" "$(ratio "${rps[gateway]}" "${rps[nginx]}")x" ">= 0.8x"
printf '%-44s %10s   %s\n' "gateway added latency p50 (1 conn)" "${gw_added_p50} us" "<= 60 us"
printf '%-44s %10s   %s\n' "gateway added latency p99 (1 conn)" "${gw_added_p99} us" "<= 250 us"
printf '%-44s %10s   %s\n' "gateway added time to first token p50" "${gw_ttft} us" "<= 100 us"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ -n "${KEEP_OUTPUT:-}" ]]; then
  mkdir -p "$KEEP_OUTPUT" && cp "$tmp"/wrk-*.txt "$tmp"/latency.txt "$tmp"/ttft.txt "$KEEP_OUTPUT"/
  echo "raw outputs in $KEEP_OUTPUT"
fi
