#!/usr/bin/env bash
# The quicksilver executable's contract: --help lists the commands, --version prints the
# version, usage errors exit 2 with a one-line hint, --help works for every command.
set -u
bin=${1:?usage: cli_test.sh PATH/TO/quicksilver [PATH/TO/shared]}
failures=0
check() {  # check NAME EXPECTED_EXIT PATTERN -- ARGS...
  local name=$1 want=$2 pattern=$3; shift 4
  local out rc
  out=$("$bin" "$@" 2>&1); rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want; output: $out"; failures=$((failures + 1)); return
  fi
  if ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output does not match /$pattern/: $out"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}
check help 0 "^  info " -- --help
check version 0 "^quicksilver [0-9]+\.[0-9]+\.[0-9]+$" -- --version
check no-args 2 "usage: quicksilver COMMAND" --
check unknown-command 2 "^quicksilver: unknown command 'nosuch' \(see 'quicksilver --help'\)$" -- nosuch
check unknown-flag 2 "unknown flag --frobnicate" -- --frobnicate
check info-unknown-flag 2 "^quicksilver info: unknown flag --x \(see 'quicksilver info --help'\)$" -- info --x
check info 0 "backend: LibTorch [0-9.]+" -- info
# Every listed command has --help that exits 0 with its usage line.
for cmd in $("$bin" --help | awk '/^commands:/{on=1; next} /^$/{on=0} on {print $1}'); do
  check "$cmd --help" 0 "usage: quicksilver $cmd" -- "$cmd" --help
done
# tokenize with the Qwen2 fixture tokenizer (shared/ is the optional second argument).
check tokenize-no-tokenizer 2 "^quicksilver tokenize: missing required flag --tokenizer" -- tokenize hi
check tokenize-missing-dir 1 "^quicksilver tokenize: error: not found: " -- tokenize --tokenizer /nonexistent hi
shared=${2:-}
if [ -n "$shared" ]; then
  tok=$shared/fixtures/tokenizers/qwen2
  check tokenize 0 "^\[9707,11,847,5562,374,18838\]$" -- tokenize --tokenizer "$tok" "Hello, my dog is cute"
  check tokenize-decode 0 "^Hello, my dog is cute$" -- tokenize --tokenizer "$tok" --decode "[9707,11,847,5562,374,18838]"
  check tokenize-decode-bad-id 1 "not in the vocabulary" -- tokenize --tokenizer "$tok" --decode "[9707,999999]"
  out=$(printf '%s\n' '"Hello, my dog is cute"' '"<|im_end|>"' | "$bin" tokenize --tokenizer "$tok" --jsonl 2>&1)
  want=$'[9707,11,847,5562,374,18838]\n[151645]'
  [ "$out" = "$want" ] && echo "ok   tokenize --jsonl" || { echo "FAIL tokenize --jsonl: $out"; failures=$((failures + 1)); }
  out=$(printf '%s\n' '[9707,11]' '[151645]' | "$bin" tokenize --tokenizer "$tok" --jsonl --decode 2>&1)
  want=$'"Hello,"\n"<|im_end|>"'
  [ "$out" = "$want" ] && echo "ok   tokenize --jsonl --decode" || { echo "FAIL tokenize --jsonl --decode: $out"; failures=$((failures + 1)); }
  # generate on the tiny LLaDA fixture reproduces the published LLaDA sampler's trace
  # (fixtures/samplers/llada_oneblock: prompt 8 tokens, gen 16, 16 steps, one block).
  llada=$shared/fixtures/models/tiny-llada
  check generate-llada-trace 0 '"ids":\[354,111,111,620,620,620,336,336,925,620,336,336,336,336,336,336\]' -- \
    generate --model "$llada" --prompt-ids "[44,239,933,760,963,379,427,503]" --gen-length 16 --steps 16 --block-length 16 --json
  check generate-bad-schedule 1 "cannot be split evenly" -- generate --model "$llada" --prompt-ids "[1,2]" --gen-length 16 --steps 5 --block-length 8
  check generate-no-tokenizer 1 "has no tokenizer.json; use --prompt-ids" -- generate --model "$llada" --prompt hello
  check generate-both-prompts 2 "exactly one of --prompt" -- generate --model "$llada" --prompt a --prompt-ids "[1]"
  # schema check: a document replayed through the grammar matcher, token by token.
  data=$(cd "$(dirname "${BASH_SOURCE[0]}")/../data/schema" && pwd)
  check schema-check-valid 0 "^accepted: 27 tokens$" -- schema check "$data/order_call.json" --instance "$data/valid.json" --tokenizer "$tok"
  check schema-check-invalid 1 "rejected at byte offset 49 \(token 15, id 64, \"a\"\)" -- schema check "$data/order_call.json" --instance "$data/invalid.json" --tokenizer "$tok"
  check schema-check-unsupported 2 "unsupported.json: unsupported: uniqueItems at /properties/tags$" -- schema check "$data/unsupported.json" --instance "$data/valid.json" --tokenizer "$tok"
  dup_tags=$(mktemp "${TMPDIR:-/tmp}/qs-dup-XXXXXX.json")
  echo '{"tags": [1, 1]}' > "$dup_tags"
  check schema-check-ignore-unsupported 0 "^accepted: [0-9]+ tokens$" -- schema check "$data/unsupported.json" --instance "$dup_tags" --tokenizer "$tok" --ignore-unsupported uniqueItems
  rm -f "$dup_tags"
  check schema-check-instances 1 '^\{"accepted":false,"error":"rejected at byte offset 68 .*"line":3\}$' -- schema check "$data/order_call.json" --instances "$data/instances.jsonl" --tokenizer "$tok"
  check schema-check-stats 0 '"mask_us":\{"mean":[0-9.]+,"n":27,' -- schema check "$data/order_call.json" --instance "$data/valid.json" --tokenizer "$tok" --stats
  # bench constraint: both paths run on a small random model over Qwen2's vocabulary.
  check bench-constraint 0 "^constrained / unconstrained step: [0-9.]+x" -- bench constraint --tokenizer "$tok" --schema "$data/order_call.json" --prompt-tokens 16 --gen-length 64 --repeats 1
  check bench-constraint-shape 2 "shape must be small or dream-7b" -- bench constraint --tokenizer "$tok" --schema "$data/order_call.json" --shape huge
  # bench agent: both draft settings timed on the example workflow over a random model.
  check bench-agent-draft-both 0 "^p50 ratio draft on / off: [0-9.]+x" -- bench agent --model random --tokenizer "$tok" --draft both --repeats 2
  check bench-agent-draft-bad 2 "draft must be workflow, on, off or both" -- bench agent --model random --tokenizer "$tok" --draft maybe
fi
# bench denoise: the LM head over every position gives the same answer as over the rows a
# step reads.
check bench-denoise-lm-head 0 "kv cache none +\| lm head all +\|.*agreement with the first 1\.000" -- bench denoise --model random --hidden 64 --layers 2 --heads 4 --vocab 2048 --prompt-length 16 --gen-length 32 --steps 32 --repeats 1 --compare-full-lm-head
# validate: the examples are valid; a broken file exits 1 with file:line:column errors.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
check validate-example 0 "triage.yaml: ok \(9 nodes, 1 tool\)$" -- validate "$root/examples/triage.yaml"
check validate-examples 0 "order_support.yaml: ok" -- validate "$root/examples/order_support.yaml" "$root/examples/docs_qa.yaml"
check validate-no-file 2 "^quicksilver validate: missing FILE.yaml" -- validate
broken=$(mktemp "${TMPDIR:-/tmp}/qs-broken-XXXXXX.yaml")
printf 'name: broken\nnodes:\n  - id: a\n    type: llm\n    promt: hi\n    output: x\n' >"$broken"
check validate-broken 1 "qs-broken-[A-Za-z0-9]+\.yaml:5:5: error: unknown field 'promt'.*did you mean 'prompt'" -- validate "$broken"
check validate-broken-summary 1 "^$broken: 2 errors$" -- validate "$broken"
check validate-broken-json 1 "\"line\": 5" -- validate --json "$broken"
printf 'name: s\ntools:\n  - name: t\n    description: d\n    parameters:\n      type: object\n      properties:\n        tags: {type: array, uniqueItems: true}\n    http: {method: GET, url: "http://127.0.0.1:1/x"}\nnodes:\n  - id: a\n    type: tool\n    tool: t\n' >"$broken"
check validate-unsupported-schema 1 "unsupported: uniqueItems at /properties/tags" -- validate "$broken"
rm -f "$broken"
# A usage error is one line.
lines=$("$bin" nosuch 2>&1 | wc -l)
[ "$lines" = 1 ] && echo "ok   one-line usage error" || { echo "FAIL usage error has $lines lines"; failures=$((failures + 1)); }
if [ "$failures" -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all CLI checks passed"
