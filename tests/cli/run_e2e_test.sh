#!/usr/bin/env bash
# End to end: `quicksilver run` / `resume` on examples/order_lookup.yaml against the example
# tool server on 127.0.0.1 (a free port; the YAML is copied with that port). Covers a finished
# run, a human pause and resume, and a run that fails while the server is down and finishes
# after `resume` once it is back; agent runs over a random model. (Kill -9 at every checkpoint: tests/unit/executor_test.cc.)
set -u
bin=${1:?usage: run_e2e_test.sh QUICKSILVER TOOL_SERVER SOURCE_DIR WORK_DIR SHARED_DIR}
server_bin=$2 src=$3 work=$4/run_e2e_test shared=$5
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed "s/127.0.0.1:8765/127.0.0.1:$port/g" "$src/examples/order_lookup.yaml" >"$work/order_lookup.yaml"
server_pid=
start_server() {
  "$server_bin" --port "$port" --data "$src/examples/data" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && return
    sleep 0.1
  done
  echo "tool server did not start"; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
trap stop_server EXIT
start_server
runs="$work/runs"

# 1. A shipped order: lookup -> route -> track.
out=$("$bin" run "$work/order_lookup.yaml" --input order_id=A1001 --runs-dir "$runs" --json 2>&1)
echo "$out" | grep -q '"status": "finished"' && echo "$out" | grep -q '"carrier": "PostNord"' \
  && echo "ok   finished run" || fail "finished run: $out"

# 2. A cancelled order pauses for a person; resume with the answer.
out=$("$bin" run "$work/order_lookup.yaml" --input order_id=C3001 --runs-dir "$runs" --json 2>&1)
run_id=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
echo "$out" | grep -q '"status": "paused"' && echo "$out" | grep -q 'Refund 8.75 EUR' \
  && echo "ok   paused run" || fail "paused run: $out"
out=$("$bin" resume "$run_id" --input yes --runs-dir "$runs" --json 2>&1)
echo "$out" | grep -q '"decision": "yes"' && echo "ok   resumed run" || fail "resume: $out"
"$bin" resume "$run_id" --runs-dir "$runs" >/dev/null 2>&1
[ $? = 1 ] && echo "ok   finished run cannot resume" || fail "finished run resumed"

# 3. The server is down: the run fails and is persisted; resume finishes it once the
#    server is back.
stop_server
out=$("$bin" run "$work/order_lookup.yaml" --input order_id=B2001 --runs-dir "$runs" --json 2>/dev/null)
rc=$?
run_id=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
[ $rc = 1 ] && echo "$out" | grep -q '"status": "failed"' && echo "$out" | grep -q 'connection' \
  && echo "ok   failed run with the server down" || fail "server down: rc=$rc $out"
start_server
out=$("$bin" resume "$run_id" --runs-dir "$runs" --json 2>&1)
echo "$out" | grep -q '"status": "finished"' && echo "$out" | grep -q '"carrier": "DHL"' \
  && echo "ok   resumed after the server came back" || fail "resume after failure: $out"
[ -s "$runs/$run_id/trace.jsonl" ] && grep -q '"gen_ai.tool.name":"track_shipment"' "$runs/$run_id/trace.jsonl" \
  && echo "ok   trace written" || fail "trace missing"

# 4. Agent nodes on the real model path (constrained denoising), with a random-weight model
#    over Qwen2's tokenizer: the text is nonsense, but every turn is a valid tool call or
#    answer, the tools run over HTTP, and hitting max_rounds is a reported outcome.
qwen2=$shared/fixtures/tokenizers/qwen2
agent_yaml() {  # seed -> a sampled copy of order_support.yaml on our port, every turn
  # constrained from its first token (no draft: a random model's drafts are noise)
  sed -e "s/127.0.0.1:8765/127.0.0.1:$port/g" \
    -e 's/steps: 32/steps: 64/' -e 's/block_length: 32/block_length: 16/' \
    -e 's/temperature: 0/temperature: 1.0\n  draft: false/' -e "s/seed: 7/seed: $1/" \
    "$src/examples/order_support.yaml" >"$work/support_$1.yaml"
  echo "$work/support_$1.yaml"
}
# Sampled runs with several seeds: each ends with an answer or at max_rounds; between them
# they call tools; every generation is a constrained one (forced skeleton tokens).
traces=()
for seed in 1 2 3 4; do
  out=$("$bin" run "$(agent_yaml $seed)" --input question="Where is A1001?" --model random \
    --tokenizer "$qwen2" --runs-dir "$runs" --json 2>/dev/null)
  echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
if r["status"] == "finished":
    a = r["outputs"]["answer"]
    assert isinstance(a, str) and 1 <= len(a) <= 600, r
else:
    assert r["status"] == "failed" and "reached max_rounds (6)" in r["error"], r' 2>/dev/null \
    && echo "ok   agent run (seed $seed): answer or max_rounds" || fail "agent run seed $seed: $out"
  id=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
  traces+=("$runs/$id/trace.jsonl")
done
python3 - "${traces[@]}" <<'PY' && echo "ok   agent traces: generations and tool calls" || fail "agent traces"
import json, sys
calls = 0
for path in sys.argv[1:]:
    events = [json.loads(line) for line in open(path)]
    gens = [e for e in events if e["event"] == "gen_ai.generation"]
    assert 1 <= len(gens) <= 6, len(gens)
    for g in gens:
        assert g["gen_ai.response.model"] == "random" and g["gen_ai.usage.input_tokens"] > 100
        assert g["qs.forced_tokens"] > 0 and g["qs.denoising_steps"] > 0 and g["qs.constraint_ms"] > 0
        assert g["qs.draft_kept_tokens"] == -1  # draft: false
    for c in (e for e in events if e["event"] == "tool.call"):
        assert c["gen_ai.tool.name"] in ("get_order", "list_orders", "track_shipment"), c
        calls += 1
assert calls > 0, "no run called a tool"
PY

# 5. The multi-node graph (examples/triage.yaml: llm nodes, a router, a map over the
#    ticket's questions, a draft/review cycle bounded by max_steps, a human node) over a
#    random model with a small vocabulary (tests/data/tokenizer-small): the run takes whichever path
#    the (nonsense) classification picks and ends finished, paused for a person, or at
#    max_steps; every llm output is valid against its node's schema.
small_tokenizer=$src/tests/data/tokenizer-small  # the embedded model's BPE (2.5k ids)
for seed in 1 2 3; do
  sed -e "s/127.0.0.1:8765/127.0.0.1:$port/g" "$src/examples/triage.yaml" >"$work/triage.yaml"
  out=$("$bin" run "$work/triage.yaml" --input ticket="My order C3002 is late. Can I get a refund?" \
    --input customer=carol --model random --tokenizer "$small_tokenizer" --model-seed $seed \
    --runs-dir "$runs" --json 2>/dev/null)
  id=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])' 2>/dev/null)
  python3 - "$runs/$id/trace.jsonl" "$out" <<'PY' && echo "ok   triage graph (seed $seed)" || fail "triage seed $seed: $out"
import json, sys
r = json.loads(sys.argv[2])
assert r["status"] in ("finished", "paused") or "max_steps" in r.get("error", ""), r
events = [json.loads(line) for line in open(sys.argv[1])]
nodes = [e["qs.node.id"] for e in events if e["event"] == "node.start"]
assert nodes[0] == "classify" and "route" in nodes, nodes
if r["status"] == "finished":
  assert isinstance(r["outputs"]["reply"], str) and r["outputs"]["category"] in ("order", "shipping", "billing", "other")
  assert "answer_questions" in nodes and "write_draft" in nodes and "review" in nodes, nodes
PY
done

# 6. Without --model the built-in model is used; a checkout without it says so.
QS_BUILTIN_MODEL=$work/no-such-model "$bin" run "$src/examples/order_support.yaml" \
  --input question=hi --runs-dir "$runs" 2>&1 | grep -q "does not exist" \
  && echo "ok   missing built-in model reported" || fail "missing built-in model"

# 7. eval over the first held-out tasks with a random model: scores as JSON, the draft
#    setting overridden for every workflow; a bad --draft is a usage error.
out=$("$bin" eval --model random --tokenizer "$qwen2" --tool-base "http://127.0.0.1:$port" \
  --limit 2 --draft off --json 2>"$work/eval.log")
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["tasks"] == 2 and r["draft"] == "off" and 0 <= r["tool_selection"] <= 1, r
# The first two held-out tasks are order tasks: the per-workflow scores hold them.
w = r["by_workflow"]["order_support"]
assert w["tasks"] == 2 and w["tool_selection"] == r["tool_selection"], r' 2>/dev/null \
  && echo "ok   eval --draft off" || fail "eval: $out $(tail -3 "$work/eval.log")"
"$bin" eval --model random --tokenizer "$qwen2" --draft maybe >/dev/null 2>"$work/eval_bad.log"
[ $? = 2 ] && grep -q "draft must be workflow, on or off" "$work/eval_bad.log" \
  && echo "ok   eval --draft maybe is a usage error" || fail "eval bad draft: $(cat "$work/eval_bad.log")"

# A malformed task line is an error naming the line, not a crash.
printf '%s\n' '{"workflow": 5, "expect": {"first_turn": "answer"}}' >"$work/bad_set.jsonl"
"$bin" eval --model random --tokenizer "$qwen2" --set "$work/bad_set.jsonl" >/dev/null \
  2>"$work/eval_bad_set.log"
[ $? = 1 ] && grep -q "bad_set.jsonl:1: expected {\"workflow\": PATH" "$work/eval_bad_set.log" \
  && echo "ok   eval names a malformed task line" || fail "eval bad set: $(cat "$work/eval_bad_set.log")"

if [ "$failures" -ne 0 ]; then echo "$failures failed"; exit 1; fi
echo "all run/resume checks passed"
