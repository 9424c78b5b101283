#!/usr/bin/env bash
# The prepared GPU run (issue 7), for the `device` tool with carry [".deps"]: builds with
# the machine's LibTorch 2.x and CUDA (sm_90a) per ../shared/gpu/README.md, runs the gpu
# tests (CUDA kernels against their CPU references; the fixtures' logits on CUDA in fp32
# and bf16), then `quicksilver bench gpu`, `bench constraint` (Dream-7B's shape) and the
# reference benchmark in the same call.
# Everything goes to $OUT/gpu_check.log (and the terminal). ../shared does not travel to
# the device: copy what the run needs into an ignored folder of the checkout and carry it.
#   here, first: ../shared/gpu/bundle-deps.sh .deps
#                mkdir -p .gpu-shared && cp -r ../shared/fixtures ../shared/gpu .gpu-shared/
#   device:      bash scripts/gpu_check.sh        (carry: [".deps", ".gpu-shared"])
set -uo pipefail
out=${OUT:-/tmp}
log=$out/gpu_check.log
exec > >(tee "$log") 2>&1
date; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
tp=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tp;$PWD/.deps" \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DQS_CUDA=ON -DQS_SHARED_DIR="$PWD/.gpu-shared" | tail -3
cmake --build build-gpu -j16 --target quicksilver kernels_cuda_test 2>&1 | tail -15 || exit 1
ctest --test-dir build-gpu -L gpu --output-on-failure 2>&1 | tail -25
build-gpu/quicksilver bench gpu --repeats 2
# The constrained path's cost per step: Dream-7B's shape over Qwen2's vocabulary.
build-gpu/quicksilver bench constraint --device cuda --dtype bfloat16 --shape dream-7b \
  --tokenizer .gpu-shared/fixtures/tokenizers/qwen2 --schema tests/data/schema/sample/get_order.json
python3 .gpu-shared/gpu/reference_bench.py 2>&1 | tail -20
date
