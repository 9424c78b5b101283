#!/usr/bin/env bash
# Reproduces the embedded model in models/builtin from a seed (docs/TRAINING.md):
#   1. qs_make_corpus runs the example workflows with an oracle agent against the example
#      tool server and writes the prompt/response corpus and a BPE tokenizer trained on it;
#   2. quicksilver train trains the masked-diffusion model on it (LLaDA's SFT objective);
#   3. the result replaces models/builtin; quicksilver eval scores it on the held-out set.
# Usage: scripts/train_builtin_model.sh [BUILD_DIR] [WORK_DIR]
#   environment: STEPS, SEED, LR, WARMUP, BATCH, HIDDEN, LAYERS, HEADS, FFN, MAX_LEN,
#   SAVE_EVERY, ORDER_TASKS, DOCS_TASKS, INIT_FROM
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
work=${2:-$build/train_builtin}
steps=${STEPS:-2600}
seed=${SEED:-1}
mkdir -p "$work"
"$build/qs_make_corpus" --out "$work/corpus" --examples "$src/examples" --seed "$seed" \
  --order-tasks "${ORDER_TASKS:-6000}" --docs-tasks "${DOCS_TASKS:-3000}"
resume=()
[ -d "$work/model/train_state" ] && resume=(--resume)
# INIT_FROM=DIR continues training from an earlier run's weights (a new schedule).
[ -n "${INIT_FROM:-}" ] && [ ${#resume[@]} -eq 0 ] && resume=(--init-from "$INIT_FROM")
"$build/quicksilver" train --data "$work/corpus/corpus.jsonl" --tokenizer "$work/corpus/tokenizer" \
  --out "$work/model" --steps "$steps" --seed "$seed" --batch "${BATCH:-16}" \
  --hidden "${HIDDEN:-256}" --layers "${LAYERS:-4}" --heads "${HEADS:-4}" --ffn "${FFN:-704}" \
  --lr "${LR:-1.5e-3}" --warmup "${WARMUP:-100}" --max-len "${MAX_LEN:-800}" --save-every "${SAVE_EVERY:-400}" "${resume[@]}"
rm -rf "$src/models/builtin"
mkdir -p "$src/models/builtin"
cp "$work/model"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json} "$src/models/builtin/"
du -sh "$src/models/builtin"
