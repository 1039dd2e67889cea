#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in their own build dir and runs each
# for a while on a seed corpus made from the wire samples.
#
#   scripts/fuzz.sh [SECONDS]     (default: $FUZZ_SECONDS, else 60)
#
# Env: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_TARGETS (default: all built).
# Prints one line per target; exits non-zero when a target crashed or did
# not build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
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
targets=${FUZZ_TARGETS:-$(sed -n 's/^switchyard_fuzz_target(\([a-z_]*\).*/\1/p' \
  "$root/tests/fuzz/CMakeLists.txt")}

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
  if ! cmake --build "$build" --target "fuzz-$t" -j2 >"$log" 2>&1; then
    status=1
    echo "fuzz-$t: BUILD FAILED (log: $log)"
    continue
  fi
  for f in "$wire"/*.http; do
    extract_sse "$f" "$corpus" "seed-$(basename "$f" .http)"
  done
  printf '\0\0\xEF\xBB\xBFdata: h\xC3\xA9llo \xE2\x80\x94 \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x99\x82\r\nretry: 10\rid: 1\n\n' \
    >"$corpus/seed-utf8"
  seeds=$(find "$corpus" -name 'seed-*' | wc -l)
  touch "$log.start"
  if "$build/bin/fuzz-$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz-$t: ok, ${runs:-?} runs in ${seconds}s, $cov," \
      "$seeds seeds, corpus $(find "$corpus" -type f | wc -l) (log: $log)"
  else
    status=1
    crash=$(find "$artifacts" -type f -newer "$log.start" | head -1)
    echo "fuzz-$t: FAILED; input: ${crash:-none saved} (log: $log)"
  fi
done
exit $status
