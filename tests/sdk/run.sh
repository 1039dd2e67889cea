#!/usr/bin/env bash
# Runs the official OpenAI and Anthropic SDKs (npm packages `openai` and
# `@anthropic-ai/sdk`, pinned in package-lock.json) against a real
# switchyard-gateway in front of real switchyard-mock upstreams, with node's
# built-in test runner. Prints the runner's summary; exits non-zero when a
# test fails or something needed is missing.
#
# usage: tests/sdk/run.sh BUILD_DIR [--install-only | --no-install] [TEST...]
#   BUILD_DIR    holds bin/switchyard-gateway and bin/switchyard-mock
#   TEST         openai, anthropic (default: both)
#   --install-only  only install the npm packages (ctest's sdk.install)
#   --no-install    use the packages installed before
# The packages go to BUILD_DIR/sdk-tests (npm ci from the lock file; npm's
# cache is used first, so a second run needs no network).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

die() { echo "tests/sdk/run.sh: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || die "usage: tests/sdk/run.sh BUILD_DIR [--install-only|--no-install] [openai|anthropic...]"
build="$(cd "$1" 2>/dev/null && pwd)" || die "no build directory $1"
shift
install=1
run=1
tests=()
for arg in "$@"; do
  case "$arg" in
    --install-only) run=0 ;;
    --no-install) install=0 ;;
    openai | anthropic) tests+=("$arg.test.mjs") ;;
    *) die "unknown argument $arg" ;;
  esac
done
[[ ${#tests[@]} -gt 0 ]] || tests=(openai.test.mjs anthropic.test.mjs)

command -v node >/dev/null || die "node is not installed (bash scripts/install-deps.sh installs it)"
command -v npm >/dev/null || die "npm is not installed (bash scripts/install-deps.sh installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 18 ]] || die "node $(node --version) is too old: the tests need node >= 18"

work="$build/sdk-tests"
if [[ $install = 1 ]]; then
  mkdir -p "$work"
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  # npm ci only when the lock file changed since the last install.
  if ! cmp -s "$here/package-lock.json" "$work/node_modules/.installed-lock.json" 2>/dev/null; then
    (cd "$work" && timeout 600 npm ci --no-audit --no-fund --prefer-offline --loglevel=error) \
      || die "npm ci failed in $work (is the npm registry or npm's cache reachable?)"
    cp "$here/package-lock.json" "$work/node_modules/.installed-lock.json"
  fi
fi
[[ $run = 1 ]] || exit 0

[[ -d "$work/node_modules/openai" ]] || die "npm packages not installed in $work (run without --no-install)"
for bin in switchyard-gateway switchyard-mock; do
  [[ -x "$build/bin/$bin" ]] || die "no $build/bin/$bin (cmake --build $build --target $bin)"
done
# The tests run from the build directory, next to their node_modules.
cp "$here"/*.mjs "$work/"
cd "$work"
export SWITCHYARD_BUILD_DIR="$build"
# Bounded: every request has a client timeout, every process is stopped by
# PID; this is the last line of defence.
exec timeout --kill-after=10 300 node --test "${tests[@]}"
