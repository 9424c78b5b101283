#!/usr/bin/env bash
# The embedded model (models/builtin) end to end: the README's main job answers correctly,
# and `quicksilver eval` on held-out tasks (examples/training/eval.jsonl) meets the issue's
# thresholds: tool selection >= 0.95, exact arguments >= 0.90, retrieval answers (gold span + citation) >= 0.80.
# Tools are the example tool server on a free loopback port.
set -u
bin=${1:?usage: builtin_model_test.sh QUICKSILVER TOOL_SERVER SOURCE_DIR WORK_DIR [EVAL_LIMIT]}
server_bin=$2 src=$3 work=$4/builtin_model_test limit=${5:-0}
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
# Until a model that meets the thresholds ships (docs/TRAINING.md), ctest reports a skip.
if [ ! -f "$src/models/builtin/model.safetensors" ]; then
  echo "skipped: no models/builtin in this checkout (scripts/train_builtin_model.sh makes one)"
  exit 77
fi
size=$(du -sb "$src/models/builtin" | cut -f1)
[ "$size" -le 26214400 ] && echo "ok   models/builtin is $size bytes (<= 25 MB)" || fail "size $size"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server_bin" --port "$port" --data "$src/examples/data" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && break
  sleep 0.1
done

# The main job: the example question, answered from the tools' results.
sed "s/127.0.0.1:8765/127.0.0.1:$port/g" "$src/examples/order_support.yaml" >"$work/order_support.yaml"
out=$("$bin" run "$work/order_support.yaml" --input question="Where is my order A1001?" \
  --runs-dir "$work/runs" --json 2>&1)
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
a = r["outputs"]["answer"]
assert r["status"] == "finished", r
for want in ("A1001", "PostNord", "2026-12-01"):
    assert want in a, (want, a)' && echo "ok   main job: $(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["outputs"]["answer"])')" \
  || fail "main job: $out"
out=$("$bin" run "$src/examples/docs_qa.yaml" --input question="How long do I have to return an item?" \
  --runs-dir "$work/runs" --json 2>&1)
echo "$out" | grep -q "30 days" && echo "ok   docs_qa answers with the document" || fail "docs_qa: $out"

# Held-out evaluation through the real agent loop.
scores=$("$bin" eval --tool-base "http://127.0.0.1:$port" --limit "$limit" --json 2>"$work/eval.log")
echo "eval: $scores"
echo "$scores" | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["tool_selection"] >= 0.95, s
assert s["exact_arguments"] >= 0.90, s
assert s["retrieval_answer_accuracy"] >= 0.80, s' && echo "ok   eval thresholds" || fail "eval thresholds"

if [ "$failures" -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all embedded-model checks passed"
