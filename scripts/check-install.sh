#!/usr/bin/env bash
# Checks that an installed Switchyard can be embedded: installs the project
# into a temporary prefix, builds examples/embed against it with
# find_package(switchyard), and runs the example against a real mock
# provider. Usage: scripts/check-install.sh [BUILD_DIR]
#   BUILD_DIR  an existing build to reuse (its libraries and switchyard-mock
#              are brought up to date); without it a fresh build is made in a
#              temporary directory.
# Exits 0 when everything worked; prints what failed otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
jobs=$(nproc)

step() { printf '\n== %s\n' "$*"; }
die() {
  printf 'check-install: %s\n' "$*" >&2
  exit 1
}

work=$(mktemp -d /tmp/switchyard-check-install-XXXXXX)
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ] && kill -0 "$mock_pid" 2>/dev/null; then
    kill -TERM "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

build=${1:-}
if [ -z "$build" ]; then
  build="$work/build"
  step "configure a fresh build in $build"
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSWITCHYARD_BUILD_TESTS=OFF -DSWITCHYARD_BUILD_BENCH=OFF >/dev/null
else
  [ -f "$build/CMakeCache.txt" ] || die "$build is not a CMake build directory"
  build=$(cd "$build" && pwd)
  cmake "$build" >/dev/null # pick up new files and install rules
fi

step "build the libraries and the mock"
cmake --build "$build" -j"$jobs" \
  --target switchyard_core switchyard_actors switchyard-mock

prefix="$work/prefix"
step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/switchyard/engine.hpp include/switchyard/config.hpp \
  include/switchyard/policy/circuit_breaker.hpp; do
  [ -f "$prefix/$f" ] || die "not installed: $f"
done
# Only the embedding API is public: no actor protocol, no CAF.
for f in include/switchyard/actors.hpp include/switchyard/runtime.hpp; do
  [ ! -e "$prefix/$f" ] || die "installed although private: $f"
done
if grep -rlE '#include [<"]caf/' "$prefix/include" >/dev/null; then
  die "an installed header includes CAF: $(grep -rlE '#include [<"]caf/' "$prefix/include")"
fi
config=$(find "$prefix" -name switchyardConfig.cmake -print -quit)
[ -n "$config" ] || die "not installed: switchyardConfig.cmake"
for f in switchyardConfigVersion.cmake switchyardTargets.cmake FindCAF.cmake; do
  [ -f "$(dirname "$config")/$f" ] || die "not installed: $f"
done

step "build examples/embed against the installed package"
cmake -S "$src/examples/embed" -B "$work/embed" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/embed" -j"$jobs"
example="$work/embed/switchyard-embed"
[ -x "$example" ] || die "the example was not built"

step "run the example against a mock provider"
"$build/bin/switchyard-mock" --port 0 >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
port=""
for _ in $(seq 1 100); do # up to 10 s for "listening on 127.0.0.1:PORT"
  line=$(head -n 1 "$work/mock.out" 2>/dev/null || true)
  if [[ $line =~ ^listening\ on\ 127\.0\.0\.1:([0-9]+)$ ]]; then
    port=${BASH_REMATCH[1]}
    break
  fi
  kill -0 "$mock_pid" 2>/dev/null || die "the mock exited: $(cat "$work/mock.err")"
  sleep 0.1
done
[ -n "$port" ] || die "the mock did not report its port within 10 s"

cat >"$work/config.json" <<EOF
{
  "providers": {
    "mock": {"kind": "openai_chat", "base_url": "http://127.0.0.1:$port"}
  },
  "deployments": {"mock-gpt": {"provider": "mock", "model": "gpt-4o-mini"}},
  "routes": {
    "chat": {"targets": ["mock-gpt"], "deadline_ms": 10000,
             "ladder_ms": [5000]}
  },
  "engine": {"threads": 2}
}
EOF

prompt="Is the installed engine usable?"
# The mock's answer is a function of (seed, model, messages): ask it
# directly for the answer the example must print.
expected=$(curl -sS --max-time 10 -H 'content-type: application/json' \
  -d "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}" \
  "http://127.0.0.1:$port/v1/chat/completions" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])')
[ -n "$expected" ] || die "the mock gave no answer"

set +e
timeout 60 "$example" "$work/config.json" "$prompt" >"$work/example.out" \
  2>"$work/example.err"
rc=$?
set -e
cat "$work/example.out"
[ $rc = 0 ] || die "the example exited with $rc: $(cat "$work/example.err")"
[ "$(head -n 1 "$work/example.out")" = "$expected" ] \
  || die "the example printed an answer other than the mock's: \"$expected\""
grep -q '^answered-by: mock/gpt-4o-mini$' "$work/example.out" \
  || die "the example did not say who answered"
grep -q '^attempt: mock-gpt (mock/gpt-4o-mini) status=200' "$work/example.out" \
  || die "the example did not print its attempt trail"
total=$(curl -sS --max-time 10 "http://127.0.0.1:$port/mock/stats" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
[ "$total" = 2 ] || die "the mock saw $total requests, expected 2"

step "install check passed"
