#!/usr/bin/env bash
# Reproduces the embedded model in models/builtin from a seed (docs/TRAINING.md):
#   1. qs_make_corpus runs the example workflows with an oracle agent against the example
#      tool server and writes the prompt/response corpus, the drills (first turns of order
#      tasks with a one-line system message) and a BPE tokenizer trained on the corpus;
#   2. quicksilver train trains the masked-diffusion model (LLaDA's SFT objective) in two
#      stages: DRILL_STEPS on the drills (short: the model learns to read the question and
#      copy its ids cheaply), then STEPS on the corpus and the drills together from those
#      weights. Every prompt has the compact system message ("Tools: a, b, c."), which the
#      checkpoint records (--agent-prompt compact) so the agent loop gives it the same;
#   3. the result replaces models/builtin; quicksilver eval scores it on the held-out set.
# Usage: scripts/train_builtin_model.sh [BUILD_DIR] [WORK_DIR]
#   environment: STEPS, DRILL_STEPS, SEED, LR, WARMUP, BATCH, HIDDEN, LAYERS, HEADS, FFN,
#   MAX_LEN, SAVE_EVERY, ORDER_TASKS, DOCS_TASKS, DRILL_TASKS, DOCS_REPEAT, INIT_FROM,
#   MASK_SAMPLING (count, the default, bernoulli, suffix or mixed; both stages), VOCAB_SIZE,
#   DOCS_DECLINES, STAGE2_DRILLS
# Rerunning with the same WORK_DIR continues an interrupted run (--resume).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
work=${2:-$build/train_builtin}
steps=${STEPS:-4000}
drill_steps=${DRILL_STEPS:-2500}
seed=${SEED:-1}
lr=${LR:-1e-3}
masks=(--mask-sampling "${MASK_SAMPLING:-count}")
shape=(--hidden "${HIDDEN:-128}" --layers "${LAYERS:-4}" --heads "${HEADS:-4}" --ffn "${FFN:-352}")
mkdir -p "$work"
if [ ! -f "$work/corpus/corpus.jsonl" ]; then
  "$build/qs_make_corpus" --out "$work/corpus" --examples "$src/examples" --seed "$seed" \
    --order-tasks "${ORDER_TASKS:-8000}" --docs-tasks "${DOCS_TASKS:-3000}" \
    --drill-tasks "${DRILL_TASKS:-30000}" --agent-prompt compact --spoken-names \
    --vocab-size "${VOCAB_SIZE:-4096}"
fi
# Stage two: the corpus's order turns, its document answers DOCS_REPEAT times (a few
# thousand long rows among tens of thousands of short ones), the first DOCS_DECLINES of
# its "do not know" turns (-1: all) and the first STAGE2_DRILLS drills (-1: all), so that
# copying from the question keeps its share. The defaults are run 20's (docs/TRAINING.md:
# 59 minutes in all; tool selection 0.980, exact arguments 0.928, but documents 15/70).
docs_repeat=${DOCS_REPEAT:-4}
if [ ! -f "$work/corpus/mix.jsonl" ]; then
  corpus=$work/corpus/corpus.jsonl mix=$work/corpus/mix.jsonl.tmp
  grep -vF 'Tools: search_policies.' "$corpus" >"$mix"
  for ((r = 0; r < docs_repeat; r++)); do
    grep -F 'Tools: search_policies.' "$corpus" | grep -vF 'I do not know.' >>"$mix"
  done
  grep -F 'Tools: search_policies.' "$corpus" | grep -F 'I do not know.' |
    awk -v n="${DOCS_DECLINES:-140}" 'n < 0 || NR <= n' >>"$mix"
  awk -v n="${STAGE2_DRILLS:-6000}" 'n < 0 || NR <= n' "$work/corpus/drills.jsonl" >>"$mix"
  mv "$mix" "$work/corpus/mix.jsonl"
fi
init=(${INIT_FROM:+--init-from "$INIT_FROM"})
if [ "$drill_steps" -gt 0 ] && [ -z "${INIT_FROM:-}" ]; then
  resume=()
  [ -d "$work/drills/train_state" ] && resume=(--resume)  # finished: "nothing to do"
  "$build/quicksilver" train --data "$work/corpus/drills.jsonl" --tokenizer "$work/corpus/tokenizer" \
    --out "$work/drills" --steps "$drill_steps" --seed "$seed" --batch 32 "${shape[@]}" \
    --lr "$lr" --warmup 30 --max-len 256 --tail-pad 16 --save-every 0 --agent-prompt compact \
    "${masks[@]}" "${resume[@]}"
  init=(--init-from "$work/drills")
fi
[ -d "$work/model/train_state" ] && init=(--resume)
"$build/quicksilver" train --data "$work/corpus/mix.jsonl" --tokenizer "$work/corpus/tokenizer" \
  --out "$work/model" --steps "$steps" --seed "$seed" --batch "${BATCH:-32}" "${shape[@]}" \
  --lr "$lr" --warmup "${WARMUP:-100}" --max-len "${MAX_LEN:-800}" \
  --save-every "${SAVE_EVERY:-1000}" --agent-prompt compact "${masks[@]}" "${init[@]}"
rm -rf "$src/models/builtin"
mkdir -p "$src/models/builtin"
cp "$work/model"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json} "$src/models/builtin/"
du -sh "$src/models/builtin"
