#!/usr/bin/env bash
# Builds and runs the test suite:
#   1. the torch-free libraries that parse untrusted input (YAML, JSON, JSON Schema, HTTP)
#      under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/, no LibTorch);
#   2. where nvcc is installed, the CUDA kernels compile for sm_90a (build-cuda/; running
#      them needs a GPU: ctest -L gpu on the GPU machine);
#   3. the Release build and every test except those labelled gpu (build/).
# Usage: scripts/test.sh        (QS_TEST_LABELS=unit limits step 3 to one label)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# 1. Sanitizers.
[ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan "${generator[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_WITH_TORCH=OFF -DQS_SANITIZE=ON
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

# 2. CUDA kernels compile.
nvcc_path=$(command -v nvcc || true)
[ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc_path=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc_path" ]; then
  [ -f build-cuda/CMakeCache.txt ] || cmake -S . -B build-cuda "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DQS_WITH_TORCH=OFF -DQS_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc_path"
  cmake --build build-cuda -j"$jobs" --target qs_kernels kernels_cuda_test
  echo "test: CUDA kernels compiled for sm_90a with $nvcc_path (not run: no GPU here)"
else
  echo "test: nvcc not found; CUDA compile check skipped"
fi

# 3. The Release build and its tests (gpu excluded).
[ -f build/CMakeCache.txt ] || cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
label_args=(-LE gpu)
[ -n "${QS_TEST_LABELS:-}" ] && label_args=(-L "$QS_TEST_LABELS" -LE gpu)
ctest --test-dir build "${label_args[@]}" --output-on-failure -j"$jobs"
