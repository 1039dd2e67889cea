#!/usr/bin/env bash
# Installs every Debian package Switchyard needs to build, test and run.
# Idempotent and non-interactive; runs `apt-get update` once per call.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libcaf-dev libcurl4-openssl-dev nlohmann-json3-dev libsimdjson-dev libboost-dev
  libcli11-dev libspdlog-dev libhiredis-dev redis-server wrk nginx-light
  clang clang-format clang-tidy libclang-rt-dev lld curl python3 openssl procps
  chromium libjs-chart.js prometheus
)
# The SDK tests (tests/sdk) run the official npm packages on node >= 18. A
# machine that already has node (e.g. from another repository, with its own
# npm) keeps it; otherwise Debian's nodejs 18 and npm.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
