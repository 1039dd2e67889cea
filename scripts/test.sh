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

run_suite() { # build-dir, extra cmake args...
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DSWITCHYARD_BUILD_BENCH=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" \
     --output-junit "junit.xml" --timeout 600)
}

step "format check (clang-format)"
# scripts/sources.sh lists the files with or without git and fails when it
# finds none; `sources=$(...)` makes its failure stop this script.
sources=$(scripts/sources.sh)
mapfile -t sources <<<"$sources"
echo "checking ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}"
[ $format_only = 1 ] && exit 0

step "build and test (RelWithDebInfo)"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

[ $quick = 1 ] && exit 0

step "install and build an outside project with find_package(switchyard)"
scripts/check-install.sh build

step "build and test (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DSWITCHYARD_SANITIZERS="address;undefined" -DSWITCHYARD_BUILD_BENCH=OFF

step "ThreadSanitizer (transport loop)"
scripts/tsan.sh

# clang-tidy (report only) runs beside the fuzzers, which run one target at
# a time on one core: its report is printed after theirs.
step "fuzz (${FUZZ_SECONDS:-10} s per target) and clang-tidy of the libraries"
tidy_log=$(mktemp)
scripts/tidy.sh build >"$tidy_log" 2>&1 &
tidy_pid=$!
fuzz_status=0
scripts/fuzz.sh "${FUZZ_SECONDS:-10}" || fuzz_status=$?
wait "$tidy_pid" || true
step "clang-tidy report (report only)"
cat "$tidy_log"
rm -f "$tidy_log"
[ $fuzz_status = 0 ] || {
  echo "fuzz: failed (exit $fuzz_status)" >&2
  exit $fuzz_status
}
step "all passed"
