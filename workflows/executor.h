// Runs a WorkflowSpec (docs/WORKFLOWS.md) node by node over a JSON state, with a SQLite
// checkpoint after every completed node and every completed tool result or model turn
// (run_store.h), a JSONL trace (trace.h), human pauses and resume.
//
//   Executor executor(spec, {.runs_dir = "runs", .model = &model});
//   StatusOr<RunResult> r = executor.Start({{"question", "Where is A1001?"}});
//   if (r.ok() && r->status == RunStatus::kPaused) r = executor.Resume(r->run_id, "approved");
//
// Outcomes: a non-ok Status means no run could be started or continued (bad inputs, an
// unknown run id, a workflow file that changed, an unwritable run folder). Everything that
// goes wrong inside a run (a failed tool call, max_steps, max_rounds, a model error) is a
// RunResult with status kFailed and an error, persisted in the run file; a failed or killed
// run may be resumed, which re-runs only the step that did not complete.
//
// Files per run: RUNS_DIR/RUN_ID/run.sqlite (the store), RUNS_DIR/RUN_ID/trace.jsonl and
// RUNS_DIR/RUN_ID/lock (flock-ed while a Start / Resume call runs it: a second process
// resuming the same run gets FailedPrecondition).
//
// Thread safety: an Executor only reads its spec and options; Start and Resume may run on
// several threads for different runs. One run uses threads internally (map max_parallel,
// parallel tool calls) and serializes model calls.
#pragma once

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "workflows/agent_model.h"
#include "workflows/run_store.h"
#include "workflows/workflow_spec.h"

namespace qs::workflows {

// What a test hook learns after each committed checkpoint.
struct CheckpointEvent {
  std::string run_id;
  int step = 0;
  std::string node_id;
  CheckpointKind kind = CheckpointKind::kNode;
  std::string key;
  int commits = 0;  // checkpoints committed by this Start / Resume call so far
};

struct ExecutorOptions {
  std::string runs_dir = "runs";  // created when missing
  // Generates agent and llm turns; may be null for workflows without such nodes (reaching
  // one fails the run).
  AgentModel* model = nullptr;
  // Passed to the HTTP executor (tests: no real backoff sleeps, a fake environment).
  std::function<void(double seconds)> sleep;
  std::function<const char*(const char*)> getenv;
  // Test hook, called after every committed checkpoint (a kill test raises SIGKILL here).
  std::function<void(const CheckpointEvent&)> after_checkpoint;
};

struct RunResult {
  std::string run_id;
  RunStatus status = RunStatus::kRunning;
  std::string error;       // kFailed: what went wrong
  nlohmann::json outputs;  // kFinished: the workflow's outputs by name
  nlohmann::json state;    // the state at the end (or at the pause)
  int steps = 0;           // node runs so far, all Start / Resume calls together
  // kPaused: the human node waiting and its rendered prompt.
  std::string paused_node;
  std::string prompt;
  std::string run_dir;
};

class Executor {
 public:
  Executor(const WorkflowSpec& spec, ExecutorOptions options);

  // Checks the inputs (declared names, types, required ones; defaults filled in), creates
  // the run and runs it until it finishes, fails or pauses.
  StatusOr<RunResult> Start(const nlohmann::json& inputs);

  // Continues a run from its last checkpoint. A paused run needs human_input (the human
  // node's result); a running (killed) or failed run takes none. A finished run is an
  // error (FailedPrecondition).
  StatusOr<RunResult> Resume(const std::string& run_id,
                             const std::optional<nlohmann::json>& human_input = std::nullopt);

  // Declared inputs checked and completed with defaults (null for absent optional ones).
  StatusOr<nlohmann::json> CheckInputs(const nlohmann::json& inputs) const;

 private:
  struct Run;
  StatusOr<RunResult> Continue(Run& run, int step, const std::string& node_id,
                               const std::optional<nlohmann::json>& human_input);

  WorkflowSpec spec_;  // copied, so the caller may drop its spec
  ExecutorOptions options_;
};

}  // namespace qs::workflows
