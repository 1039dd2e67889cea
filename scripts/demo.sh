#!/usr/bin/env bash
# Builds switchyard-demo and switchyard-mock into build/ and runs the demo:
# three mock providers on 127.0.0.1, a few hundred calls through a rate-
# limited, then failing, then healed primary. Arguments go to the demo
# (--requests N, --concurrency N, --quiet, --help). Exit code: the demo's
# (0 only when every call was answered).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
echo "== building switchyard-demo and switchyard-mock (build/, -j$jobs)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target switchyard-demo switchyard-mock -j"$jobs"

echo "== running build/bin/switchyard-demo $*"
exec build/bin/switchyard-demo "$@"
