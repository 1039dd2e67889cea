#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build dir and runs each
# for a while on a seed corpus made from the wire samples.
#
#   scripts/fuzz.sh [SECONDS]     (default: $FUZZ_SECONDS, else 60)
#   scripts/fuzz.sh --build-only  (build the targets, run nothing)
#
# Env: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_TARGETS (default: every
# target in tests/fuzz/CMakeLists.txt), FUZZ_RUNS (stop a target after this
# many executions instead of SECONDS), FUZZ_JOBS (build jobs, default 2).
# Seeds: the SSE bodies of tests/wire/ for sse and decoders, the others'
# from scripts/fuzz/seeds.py (wire bodies, headers and requests; configs;
# mock scenarios). Targets: sse, decoders (stream decoders), responses
# (adapters' response and error parsers), headers (Retry-After, rate
# limits), config (config loader), mock (fault header, scenario file),
# gateway (OpenAI and Anthropic request bodies).
# Prints one line per target; exits non-zero when a target crashed or did
# not build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
if [[ ${1:-} == --build-only ]]; then
  build_only=1
  shift
fi
seconds=${1:-${FUZZ_SECONDS:-60}}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
wire=$root/tests/wire

if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

# tests/fuzz is a project of its own: only the sources under test, no CAF.
CC=${CC:-clang} CXX=${CXX:-clang++} \
  cmake -S "$root/tests/fuzz" -B "$build" -G Ninja >/dev/null
targets=${FUZZ_TARGETS:-$(sed -n \
  's/^switchyard_fuzz_\(adapter_\)\{0,1\}target(\([a-z_]*\).*/\2/p' \
  "$root/tests/fuzz/CMakeLists.txt")}
# One build of every target (they share the adapters' objects), so that
# both cores work on it; a target that fails to build is reported below.
build_log=$build/fuzz-build.log
cmake --build "$build" -j"${FUZZ_JOBS:-2}" \
  --target $(printf "fuzz-%s " $targets) -- -k 0 >"$build_log" 2>&1 || true
if ((build_only)); then
  for t in $targets; do
    [[ -x $build/bin/fuzz-$t ]] || echo "fuzz-$t: BUILD FAILED (log: $build_log)"
  done
  exit 0
fi

# Writes the SSE bodies of a wire sample (see tests/wire/README.md) to
# DIR/PREFIX-N, each with two leading bytes that the targets read as cut
# positions, and a CRLF variant of each.
extract_sse() { # FILE DIR PREFIX
  awk -v dir="$2" -v prefix="$3" '
    function flush() {
      if (body ~ /[^\n]/) {
        ++n
        out = dir "/" prefix "-" n
        printf "%c%c%s", 7 * n, n, body > out
        close(out)
        crlf = body
        gsub(/\n/, "\r\n", crlf)
        out = dir "/" prefix "-" n "-crlf"
        printf "%c%c%s", 13 * n, 2 * n, crlf > out
        close(out)
      }
      body = ""
    }
    !started { started = ($0 == "---"); next }
    /^HTTP\// { flush(); sse = 0; in_head = 1; next }
    in_head && $0 == "" { in_head = 0; next }
    in_head {
      if (tolower($0) ~ /^content-type:.*text\/event-stream/) sse = 1
      next
    }
    /^# / { flush(); next }
    sse { body = body $0 "\n" }
    END { flush() }
  ' "$1"
}

status=0
for t in $targets; do
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/fuzz-$t.log
  mkdir -p "$corpus" "$artifacts"
  if [[ ! -x $build/bin/fuzz-$t ]] ||
    ! cmake --build "$build" --target "fuzz-$t" >"$log" 2>&1; then
    status=1
    echo "fuzz-$t: BUILD FAILED (log: $build_log)"
    continue
  fi
  case $t in
  sse | decoders)
    for f in "$wire"/*.http; do
      extract_sse "$f" "$corpus" "seed-$(basename "$f" .http)"
    done
    printf '\0\0\xEF\xBB\xBFdata: h\xC3\xA9llo \xE2\x80\x94 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\r\nretry: 10\rid: 1\n\n' \
      >"$corpus/seed-utf8"
    ;;
  *) python3 "$root/scripts/fuzz/seeds.py" "$root" "$corpus" "$t" >/dev/null ;;
  esac
  seeds=$(find "$corpus" -name 'seed-*' | wc -l)
  touch "$log.start"
  limit=(-max_total_time="$seconds")
  [[ -n ${FUZZ_RUNS:-} ]] && limit=(-runs="$FUZZ_RUNS")
  t0=$SECONDS
  # -timeout: an input that runs 10 s is a hang, reported like a crash.
  if "$build/bin/fuzz-$t" "${limit[@]}" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz-$t: ok, ${runs:-?} runs in $((SECONDS - t0))s, $cov," \
      "$seeds seeds, corpus $(find "$corpus" -type f | wc -l) (log: $log)"
  else
    status=1
    crash=$(find "$artifacts" -type f -newer "$log.start" | head -1)
    echo "fuzz-$t: FAILED; input: ${crash:-none saved} (log: $log)"
  fi
done
exit $status
