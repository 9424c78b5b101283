#!/usr/bin/env bash
# The main job in one command: starts the example tool server on 127.0.0.1:8765 (the port
# the example workflows call), runs an example agent with the embedded model and stops the
# server again.
#   scripts/run_example.sh [WORKFLOW] [QUESTION] [extra `quicksilver run` flags...]
#   scripts/run_example.sh order_support "Where is my order A1001?"
#   scripts/run_example.sh docs_qa "How long do I have to return an item?"
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${QS_BUILD_DIR:-$src/build}
workflow=${1:-order_support}
question=${2:-Where is my order A1001?}
shift $(( $# > 2 ? 2 : $# ))
"$build/qs_example_tool_server" --port 8765 --data "$src/examples/data" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8765) 2>/dev/null && break
  sleep 0.1
done
"$build/quicksilver" run "$src/examples/$workflow.yaml" --input question="$question" \
  --runs-dir "${QS_RUNS_DIR:-$src/runs}" "$@"
