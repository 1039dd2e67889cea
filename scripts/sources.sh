#!/usr/bin/env bash
# Lists the project's C++ sources, one path a line, relative to the root:
# the tracked files in a git checkout; elsewhere (a release tarball) every
# matching file under the source directories, build trees and hidden
# directories left out. Fails loudly when it finds none, so that a check
# never passes by checking nothing.
# Usage: scripts/sources.sh [--cpp] [dir...]
#   --cpp   only *.cpp (default: *.cpp and *.hpp)
#   dir     default: libengine actors apps tests bench examples
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)

exts=('*.cpp' '*.hpp')
if [ "${1:-}" = "--cpp" ]; then
  exts=('*.cpp')
  shift
fi
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(libengine actors apps tests bench examples)

top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ -n "$top" ] && [ "$(cd "$top" && pwd -P)" = "$root" ]; then
  specs=()
  for d in "${dirs[@]}"; do
    for e in "${exts[@]}"; do specs+=("$d/$e"); done
  done
  list=$(git ls-files -- "${specs[@]}")
else
  present=()
  for d in "${dirs[@]}"; do
    [ -d "$d" ] && present+=("$d")
  done
  names=()
  for e in "${exts[@]}"; do names+=(-o -name "$e"); done
  list=""
  if [ ${#present[@]} -gt 0 ]; then
    list=$(find "${present[@]}" \( -type d \( -name 'build*' -o -name '.*' \) \
      -prune \) -o -type f \( "${names[@]:1}" \) -print | LC_ALL=C sort)
  fi
fi
if [ -z "$list" ]; then
  echo "sources: no ${exts[*]} files under ${dirs[*]} in $root" >&2
  exit 1
fi
printf '%s\n' "$list"
