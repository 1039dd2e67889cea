#!/usr/bin/env bash
# Runs clang-tidy with the project's .clang-tidy over the project's sources,
# using the compile database of the given build dir. Prints the warnings and
# a count; exits non-zero only if clang-tidy itself cannot run.
# Usage: scripts/tidy.sh [BUILD_DIR] [--all]
#   default: the libraries (libengine, actors), which is what CI reports:
#            clang-tidy spends 10-30 s of CPU on each file that includes CAF
#            or Beast, so the programs double its time;
#   --all:   the programs under apps/ too.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
dirs=(libengine actors)
for arg in "$@"; do
  case $arg in
  --all) dirs+=(apps) ;;
  -*)
    echo "tidy: unknown option $arg (usage: scripts/tidy.sh [BUILD_DIR] [--all])" >&2
    exit 2
    ;;
  *) build=$arg ;;
  esac
done
[ -f "$build/compile_commands.json" ] || {
  echo "tidy: no $build/compile_commands.json (build first)" >&2
  exit 2
}
db=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$db" "$log"' EXIT
if grep -q '^SWITCHYARD_UNITY:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  # A unity build's database names the batch files, not the sources: make a
  # database of its own (configure only, nothing is built).
  cmake -S . -B "$db" -G Ninja -DSWITCHYARD_UNITY=OFF -DSWITCHYARD_PCH=OFF \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
else
  # GCC's precompiled headers (cmake/SwitchyardPch.cmake) mean nothing to
  # clang: give it a copy of the database without them, so that it reads the
  # headers themselves (and reports a file that only compiled thanks to one).
  sed -E 's# -Winvalid-pch##g; s# -include [^ ]*/cmake_pch\.hxx##g' \
    "$build/compile_commands.json" >"$db/compile_commands.json"
fi
# Listed with or without git (a release tarball); none found is an error.
files=$(scripts/sources.sh --cpp "${dirs[@]}")
mapfile -t files <<<"$files"
printf '%s\n' "${files[@]}" \
  | xargs -P "$(nproc)" -n 4 clang-tidy -p "$db" --quiet 2>/dev/null \
  >"$log" || true
grep -E 'warning:|error:' "$log" | sort -u || true
echo "tidy: $(grep -cE 'warning:|error:' "$log" || true) finding(s) in ${#files[@]} files (${dirs[*]})"
