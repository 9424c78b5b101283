#!/usr/bin/env bash
# Installs quicksilver's Debian packages (idempotent; sudo only when not root), then
# configures and builds in Release into build/.
#   scripts/setup.sh            install + build
#   QS_SKIP_INSTALL=1 scripts/setup.sh   build only
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas-dev          # LibTorch 1.13 (CPU); OpenBLAS: ~10x faster matmul
  libyaml-cpp-dev nlohmann-json3-dev libre2-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev libsqlite3-dev libutf8proc-dev
  python3 python3-jsonschema json-schema-test-suite time   # test oracles, /usr/bin/time
)

if [ "${QS_SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  else
    echo "setup: all Debian packages present"
  fi
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${QS_CMAKE_ARGS:-}
cmake --build build -j"$(nproc)"
echo "setup: built build/quicksilver"
