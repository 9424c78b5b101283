#!/usr/bin/env bash
# The embedded model's corpus generator (examples/training/make_corpus.cc): the same seed
# gives byte-identical files; prompts carry the compact system message and the address
# the example workflows use; no held-out question frame reaches the training files.
set -u
corpus_bin=${1:?usage: make_corpus_test.sh QS_MAKE_CORPUS TOOL_SERVER SOURCE_DIR WORK_DIR}
server_bin=$2 src=$3 work=$4/make_corpus_test
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
for run in a b; do
  "$corpus_bin" --out "$work/$run" --examples "$src/examples" --server "$server_bin" --seed 5 \
    --order-tasks 150 --docs-tasks 40 --drill-tasks 150 >"$work/$run.log" 2>&1 ||
    fail "qs_make_corpus run $run: $(cat "$work/$run.log")"
done
for f in corpus.jsonl drills.jsonl tokenizer/tokenizer.json; do
  cmp -s "$work/a/$f" "$work/b/$f" && echo "ok   $f is the same for the same seed" ||
    fail "$f differs between two runs with --seed 5"
done
python3 - "$work/a" "$src/examples/training/make_corpus.cc" <<'PY' && echo "ok   prompts: compact system message, port 8765, bound customer, no held-out frame" || exit_code=1
import json, re, sys
work, source = sys.argv[1], open(sys.argv[2]).read()
lines = [json.loads(l) for f in ("corpus.jsonl", "drills.jsonl") for l in open(f"{work}/{f}")]
assert len(lines) > 300, len(lines)
for d in lines:
    system = d["prompt"].split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nTools: "), system
    for port in re.findall(r"127\.0\.0\.1:(\d+)", d["prompt"]):
        assert port == "8765", port
# order_support binds list_orders' customer (bind:): its calls carry no customer, and a
# task without an account is not offered list_orders.
list_calls = [d for d in lines if d["response"].startswith('{"tool":"list_orders"')]
assert list_calls, "no list_orders call"
for d in list_calls:
    assert d["response"] == '{"tool":"list_orders","arguments":{}}', d["response"]
for d in lines:
    if "Customer account: \n" in d["prompt"]:
        assert "list_orders" not in d["prompt"].split("<|im_end|>")[0], d["prompt"]
# The held-out frames: the last two of each list in kFrames, with the slots cut out.
frames = re.search(r"kFrames = \{(.*?)\n\};", source, re.S).group(1)
held_out = []
for block in re.findall(r"\{Kind::\w+,\s*\{(.*?)\}\}", frames, re.S):
    items = re.findall(r'"((?:[^"\\]|\\.)*)"', block)
    held_out += items[-2:]
assert len(held_out) == 12, held_out
questions = [re.search(r"Question: (.*)\n", d["prompt"]) for d in lines]
questions = [q.group(1).lower() for q in questions if q]
for frame in held_out:
    pieces = [p.strip().lower() for p in re.split(r"\{\w+\}", frame) if p.strip()]
    for q in questions:
        assert not all(p in q for p in pieces), (frame, q)
PY
[ "${exit_code:-0}" -eq 0 ] || fail "prompt checks"
if [ "$failures" -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all corpus checks passed"
