#!/usr/bin/env bash
# Runs clang-tidy with the project's .clang-tidy over the project's sources,
# using the compile database of the given build dir. Prints the warnings and
# a count; exits non-zero only if clang-tidy itself cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -f "$build/compile_commands.json" ] || {
  echo "tidy: no $build/compile_commands.json (build first)" >&2
  exit 2
}
# Listed with or without git (a release tarball); none found is an error.
files=$(scripts/sources.sh --cpp libengine actors apps)
mapfile -t files <<<"$files"
log=$(mktemp)
printf '%s\n' "${files[@]}" \
  | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet 2>/dev/null \
  >"$log" || true
grep -E 'warning:|error:' "$log" | sort -u || true
echo "tidy: $(grep -cE 'warning:|error:' "$log" || true) finding(s) in ${#files[@]} files"
rm -f "$log"
