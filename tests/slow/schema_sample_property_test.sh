#!/usr/bin/env bash
# Property test of constrained denoising: `schema sample --model random` over the Qwen2
# tokenizer must yield documents that an independent validator (Debian's
# python3-jsonschema, draft 2020-12 with its draft-2020-12 format checker: date, time,
# date-time, email, ipv4, ipv6, uuid) accepts: 100%, for tool-call
# style schemas and several seeds, plus the budget edge (just enough / one too few).
set -u
bin=${1:?usage: schema_sample_property_test.sh QUICKSILVER SOURCE_DIR SHARED_DIR}
src=$2 shared=$3
tok=$shared/fixtures/tokenizers/qwen2
failures=0 total=0
for schema in "$src"/tests/data/schema/sample/*.json; do
  for seed in 1 2 3 4 5; do
    total=$((total + 1))
    out=$("$bin" schema sample "$schema" --model random --tokenizer "$tok" --seed "$seed" \
      --max-tokens 160 --temperature 1 --json 2>/dev/null)
    if ! python3 - "$schema" "$out" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
result = json.loads(sys.argv[2])
doc = json.loads(result["document"])
v = jsonschema.Draft202012Validator
v(schema, format_checker=v.FORMAT_CHECKER).validate(doc)
PY
    then
      echo "FAIL $(basename "$schema") seed $seed: $out"
      failures=$((failures + 1))
    fi
  done
done
echo "schema sample: $((total - failures)) of $total documents valid per python3-jsonschema"

# Budget: {"tool":"get_order","arguments":{"order_id":"A0000"}} is 53 bytes = 53 tokens at most.
get_order=$src/tests/data/schema/sample/get_order.json
out=$("$bin" schema sample "$get_order" --model random --tokenizer "$tok" --max-tokens 53 --json 2>/dev/null)
echo "$out" | grep -q '"valid":true' && echo "ok   just enough budget (53)" || { echo "FAIL budget 53: $out"; failures=$((failures + 1)); }
out=$("$bin" schema sample "$get_order" --model random --tokenizer "$tok" --max-tokens 52 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "needs 53 tokens, but only 52" && echo "ok   one token too few is refused before generating" \
  || { echo "FAIL budget 52: $out"; failures=$((failures + 1)); }
# Unsupported keywords exit 2 with the keyword and pointer.
out=$("$bin" schema sample "$src/tests/data/schema/unsupported.json" --model random --tokenizer "$tok" 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "unsupported: uniqueItems at /properties/tags" && echo "ok   unsupported schema" \
  || { echo "FAIL unsupported: $out"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] || { echo "$failures failed"; exit 1; }
echo "all schema sample checks passed"
