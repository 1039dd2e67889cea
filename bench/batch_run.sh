#!/usr/bin/env bash
# Runs switchyard-batch over N-line inputs against one switchyard-mock on
# this machine and prints, per size: wall time, lines/s, the batch
# process's CPU µs per line (user + sys) and its peak RSS; then the mock's
# CPU per line. Numbers, not pass/fail.
#
# usage: bench/batch_run.sh [BUILD_DIR] [LINES...]     (default 10000 100000)
#   CONCURRENCY=256  ENGINE_THREADS=2  MOCK_THREADS=1  WORDS=12
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10000 100000)
batch="$build/bin/switchyard-batch"
mock="$build/bin/switchyard-mock"
concurrency="${CONCURRENCY:-256}"
for bin in "$batch" "$mock"; do
  [[ -x "$bin" ]] || { echo "no $bin (build it first)" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is needed" >&2; exit 2; }

work="$(mktemp -d)"
"$mock" --port 0 --threads "${MOCK_THREADS:-1}" >"$work/mock.out" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  grep -qs '^listening on' "$work/mock.out" && break
  sleep 0.05
done
port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/mock.out")"
[[ -n "$port" ]] || { echo "mock did not report its port" >&2; exit 1; }

cat >"$work/config.json" <<JSON
{"providers": {"mock": {"kind": "openai_chat",
                        "base_url": "http://127.0.0.1:$port",
                        "headers": {"x-mock-words": "${WORDS:-12}"}}},
 "deployments": {"mock-gpt": {"provider": "mock", "model": "gpt-4o-mini",
                              "cost_per_1k_input": 0.00015,
                              "cost_per_1k_output": 0.0006}},
 "routes": {"chat": {"targets": ["mock-gpt"]}},
 "default_route": "chat",
 "engine": {"threads": ${ENGINE_THREADS:-2}}}
JSON

mock_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
echo "switchyard-batch against switchyard-mock on 127.0.0.1, concurrency $concurrency"
printf '%9s %8s %10s %12s %12s %14s\n' lines wall_s lines/s cpu_us/line peak_rss_MB mock_cpu_us/line
for n in "${sizes[@]}"; do
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"custom_id\":\"req-%d\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarise item %d of the catalogue in one line.\"}]}}\n", i, i }' \
    >"$work/in.jsonl"
  rm -f "$work/out.jsonl" "$work/out.jsonl.state"
  before="$(mock_ticks)"
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    "$batch" --config "$work/config.json" --input "$work/in.jsonl" \
    --output "$work/out.jsonl" --concurrency "$concurrency" --quiet \
    || echo "(exit $?)" >&2
  after="$(mock_ticks)"
  written="$(wc -l <"$work/out.jsonl")"
  [[ "$written" -eq "$n" ]] || echo "warning: $written output lines for $n input lines" >&2
  read -r wall user sys rss_kb <"$work/time"
  awk -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss_kb" \
      -v mt="$((after - before))" -v hz="$hz" 'BEGIN {
    printf "%9d %8.2f %10.0f %12.1f %12.1f %14.1f\n", n, w, (w > 0 ? n / w : 0),
      (u + s) * 1e6 / n, r / 1024, mt * 1e6 / hz / n }'
done
