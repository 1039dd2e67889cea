#!/usr/bin/env bash
# Soak: mixed traffic (one driver of plain calls, one of streams, each an
# embedded engine in its own switchyard-load process) against mocks that
# inject every kind of fault at random (scripts/soak/scenario.json), for the
# given time. Every few seconds it samples each driver's RSS, open file
# descriptors, threads and calls in flight. Not in CI.
#
#   scripts/soak.sh [MINUTES]     (default 10)
#
# Fails (exit 1) when, after the warm-up (the first fifth of the run, at
# least 30 s), a driver's RSS grows by more than SOAK_RSS_GROWTH_KIB (default
# 65536) or its descriptors by more than SOAK_FD_GROWTH (default 64) over
# their level at the end of the warm-up; when a call is stuck (the
# scenario's expectations: nothing unfinished, no call longer than its
# deadline + 1 s, >= 99 % answered); or when a driver fails.
# Env: BUILD_DIR (default build), SOAK_SAMPLE_SECONDS (default 5),
# SOAK_CONCURRENCY (default 48 per driver), SOAK_OUT (default
# $BUILD_DIR/soak). Samples go to $SOAK_OUT/samples.tsv.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
minutes=${1:-10}
if ! [[ $minutes =~ ^[0-9]+$ ]] || ((minutes == 0)); then
  echo "usage: $0 [MINUTES]" >&2
  exit 2
fi
build=${BUILD_DIR:-$root/build}
load=$build/bin/switchyard-load
every=${SOAK_SAMPLE_SECONDS:-5}
concurrency=${SOAK_CONCURRENCY:-48}
rss_bound=${SOAK_RSS_GROWTH_KIB:-65536}
fd_bound=${SOAK_FD_GROWTH:-64}
out=${SOAK_OUT:-$build/soak}
scenario=$root/scripts/soak/scenario.json
if [[ ! -x $load || ! -x $build/bin/switchyard-mock ]]; then
  echo "soak: build switchyard-load and switchyard-mock first:" \
    "cmake --build $build --target switchyard-load switchyard-mock" >&2
  exit 2
fi
mkdir -p "$out"
seconds=$((minutes * 60))
warmup=$((seconds / 5 > 30 ? seconds / 5 : 30))

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# One driver per mode; each starts its own mocks. Progress lines (one a
# second, "in flight N") go to the log, which the sampler reads.
for mode in plain stream; do
  flag=()
  [[ $mode == stream ]] && flag=(--stream)
  "$load" --scenario "$scenario" --concurrency "$concurrency" \
    --duration "${seconds}s" --drain 10s --seed $((RANDOM + 1)) \
    --json "$out/$mode.json" "${flag[@]}" >"$out/$mode.log" 2>&1 &
  pids+=($!)
done

# kib_rss PID / fds PID / threads PID
field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
in_flight() {
  tr '\r' '\n' <"$1" | sed -n 's/.*in flight *\([0-9]*\).*/\1/p' | tail -1
}

declare -A base_rss base_fd max_rss max_fd
printf 't_s\tmode\trss_kib\tfds\tthreads\tin_flight\n' >"$out/samples.tsv"
start=$(date +%s)
status=0
while :; do
  alive=0
  now=$(($(date +%s) - start))
  for i in 0 1; do
    pid=${pids[$i]}
    mode=$([[ $i == 0 ]] && echo plain || echo stream)
    kill -0 "$pid" 2>/dev/null || continue
    alive=1
    rss=$(field "$pid" VmRSS)
    thr=$(field "$pid" Threads)
    fd=$(fds "$pid")
    fl=$(in_flight "$out/$mode.log")
    [[ -z $rss ]] && continue
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$mode" "$rss" "$fd" "$thr" \
      "${fl:--}" >>"$out/samples.tsv"
    if ((now >= warmup)) && [[ -z ${base_rss[$mode]:-} ]]; then
      base_rss[$mode]=$rss
      base_fd[$mode]=$fd
    fi
    if [[ -n ${base_rss[$mode]:-} ]] && ((now < seconds)); then
      ((rss > ${max_rss[$mode]:-0})) && max_rss[$mode]=$rss
      ((fd > ${max_fd[$mode]:-0})) && max_fd[$mode]=$fd
    fi
  done
  ((alive)) || break
  sleep "$every"
done

for i in 0 1; do
  mode=$([[ $i == 0 ]] && echo plain || echo stream)
  if ! wait "${pids[$i]}"; then
    status=1
    echo "soak: the $mode driver failed (log: $out/$mode.log):"
    grep -E '^(FAIL|switchyard-load)' "$out/$mode.log" | head -5 || true
  fi
  grep -E '^(requests|latency|streams|engine) ' "$out/$mode.log" |
    sed "s/^/soak $mode: /" || true
  if [[ -z ${base_rss[$mode]:-} ]]; then
    echo "soak $mode: no sample after the warm-up"
    status=1
    continue
  fi
  grow_rss=$((${max_rss[$mode]} - ${base_rss[$mode]}))
  grow_fd=$((${max_fd[$mode]} - ${base_fd[$mode]}))
  verdict=ok
  if ((grow_rss > rss_bound || grow_fd > fd_bound)); then
    verdict=GREW
    status=1
  fi
  echo "soak $mode: RSS after warm-up ${base_rss[$mode]} KiB, max" \
    "${max_rss[$mode]} KiB (+$grow_rss, bound $rss_bound); fds" \
    "${base_fd[$mode]} -> max ${max_fd[$mode]} (+$grow_fd, bound $fd_bound):" \
    "$verdict"
done
pids=()
echo "soak: ${minutes} min, samples in $out/samples.tsv:" \
  "$([[ $status == 0 ]] && echo PASS || echo FAIL)"
exit $status
