#!/usr/bin/env bash
# Builds Switchyard and runs every test: a normal build and an ASan+UBSan
# build (both must pass), the format check, a ThreadSanitizer run of the
# transport loop, clang-tidy of the libraries (report only) and a short fuzz
# run of every fuzz target. Usage: scripts/test.sh [--quick | --format]
# (--quick: format check, normal build and its tests only; --format: the
# format check only). FUZZ_SECONDS (default 10 per target) bounds the fuzz
# run. Prints the time each step took. Works in a git checkout and in an
# unpacked release tarball alike.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
format_only=0
[ "${1:-}" = "--quick" ] && quick=1
[ "${1:-}" = "--format" ] && format_only=1
jobs=$(nproc)

started=$SECONDS
step_start=$SECONDS
step() {
  printf '\n== %s   (previous step %d s, %d s in all)\n' "$*" \
    $((SECONDS - step_start)) $((SECONDS - started))
  step_start=$SECONDS
}

# Unity builds and line tables only (-g1: file:line in backtraces and
# sanitizer reports, a fraction of full debug info's compile and link time):
# CI builds everything from scratch twice.
build_suite() { # build-dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DSWITCHYARD_BUILD_BENCH=ON \
    -DSWITCHYARD_UNITY=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}
test_suite() { # build-dir
  (cd "$1" && ctest --output-on-failure -j"$jobs" \
     --output-junit "junit.xml" --timeout 600)
}

# Work that only needs CPU (clang-tidy, the fuzzers' clang build) runs at
# the lowest priority beside the test runs, which mostly wait on sockets and
# timers: it takes the idle cores and yields them to the tests at once.
background_pids=()
in_background() { # log, command...
  local log=$1
  shift
  nice -n 19 "$@" >"$log" 2>&1 &
  background_pids+=($!)
}
kill_tree() { # pid: the process and everything it started
  local child
  for child in $(pgrep -P "$1" || true); do
    kill_tree "$child"
  done
  kill "$1" 2>/dev/null || true
}
cleanup() {
  for pid in "${background_pids[@]}"; do
    kill_tree "$pid"
  done
  rm -f "${tidy_log:-}" "${fuzz_build_log:-}"
}
trap cleanup EXIT

step "format check (clang-format)"
# scripts/sources.sh lists the files with or without git and fails when it
# finds none; `sources=$(...)` makes its failure stop this script.
sources=$(scripts/sources.sh)
mapfile -t sources <<<"$sources"
echo "checking ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}"
[ $format_only = 1 ] && exit 0

step "build (RelWithDebInfo)"
build_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
if [ $quick = 0 ]; then
  tidy_log=$(mktemp)
  in_background "$tidy_log" scripts/tidy.sh build
  tidy_pid=$!
  fuzz_build_log=$(mktemp)
  in_background "$fuzz_build_log" scripts/fuzz.sh --build-only
  fuzz_build_pid=$!
fi

step "test (RelWithDebInfo)"
test_suite build

[ $quick = 1 ] && exit 0

step "install and build an outside project with find_package(switchyard)"
scripts/check-install.sh build

step "build (ASan + UBSan)"
build_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" \
  -DSWITCHYARD_SANITIZERS="address;undefined" -DSWITCHYARD_BUILD_BENCH=OFF

step "test (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  test_suite build-asan

step "ThreadSanitizer (transport loop)"
scripts/tsan.sh

# clang-tidy (report only) goes on beside the fuzzers, which run one target
# at a time on one core: its report is printed after theirs.
step "fuzz (${FUZZ_SECONDS:-10} s per target)"
wait "$fuzz_build_pid" || true # fuzz.sh reports a target that did not build
cat "$fuzz_build_log"
fuzz_status=0
scripts/fuzz.sh "${FUZZ_SECONDS:-10}" || fuzz_status=$?
step "clang-tidy of the libraries (report only)"
wait "$tidy_pid" || true
cat "$tidy_log"
[ $fuzz_status = 0 ] || {
  echo "fuzz: failed (exit $fuzz_status)" >&2
  exit $fuzz_status
}
step "all passed"
