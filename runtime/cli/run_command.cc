// quicksilver run / resume: execute a workflow file, checkpointed in a SQLite run file, and
// continue a paused, failed or killed run.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/agent/diffusion_agent.h"
#include "runtime/cli/command.h"
#include "runtime/json_schema/schema.h"
#include "workflows/executor.h"
#include "workflows/run_store.h"
#include "workflows/workflow_spec.h"

namespace qs::cli {

namespace {

// Validates a workflow file with full schema compilation; prints the problems.
std::optional<workflows::WorkflowSpec> LoadSpec(const std::string& command,
                                                const std::string& path) {
  const workflows::WorkflowOptions options = CliWorkflowOptions();
  workflows::WorkflowValidation v = workflows::ValidateWorkflowFile(path, options);
  if (!v.spec) {
    for (const workflows::Diagnostic& d : v.diagnostics) {
      std::fprintf(stderr, "%s\n", d.ToString().c_str());
    }
    std::fprintf(stderr, "quicksilver %s: error: %s is not a valid workflow (%zu problems)\n",
                 command.c_str(), path.c_str(), v.diagnostics.size());
  }
  return v.spec;
}

bool HasModelNodes(const workflows::WorkflowSpec& spec) {
  for (const workflows::NodeSpec& node : spec.nodes) {
    if (node.type == workflows::NodeType::kAgent || node.type == workflows::NodeType::kLlm) {
      return true;
    }
  }
  return false;
}

// The model for the workflow's agent and llm nodes: --model overrides the file's
// model.path. Null when the workflow has no such node.
StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> LoadAgentModel(
    const workflows::WorkflowSpec& spec, const std::string& model_flag,
    const std::string& tokenizer_flag, int64_t seed) {
  if (!HasModelNodes(spec)) return std::unique_ptr<agent::DiffusionAgentModel>();
  return LoadCliAgentModel(model_flag.empty() ? spec.model.resolved_path : model_flag,
                           tokenizer_flag, seed);
}

// "key=value": the value is JSON when the input is not declared as a string.
Status ParseInputs(const workflows::WorkflowSpec& spec, const std::vector<std::string>& pairs,
                   nlohmann::json* inputs) {
  *inputs = nlohmann::json::object();
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument("--input " + pair + ": expected NAME=VALUE");
    }
    const std::string name = pair.substr(0, eq), text = pair.substr(eq + 1);
    const workflows::InputSpec* declared = nullptr;
    for (const workflows::InputSpec& in : spec.inputs) {
      if (in.name == name) declared = &in;
    }
    if (declared == nullptr || declared->type == workflows::ValueType::kString) {
      (*inputs)[name] = text;  // unknown names are reported by the executor's check
      continue;
    }
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded()) {
      return InvalidArgument("--input " + name + "=" + text + ": not valid JSON for a " +
                             "non-string input (write numbers, true/false, [..] or {..})");
    }
    (*inputs)[name] = value;
  }
  return Status::Ok();
}

void AddModelFlags(FlagSet& flags, std::string* model_dir, std::string* tokenizer_dir,
                   int64_t* seed) {
  flags.String("model", model_dir,
               "Checkpoint folder for agent/llm nodes (overrides the file's model.path); "
               "'random' with --tokenizer: random weights, for tests");
  flags.String("tokenizer", tokenizer_dir, "Tokenizer folder for --model random");
  flags.Int("model-seed", seed, "Seed of --model random's weights");
}

int Report(const std::string& command, const workflows::RunResult& r, bool json_output) {
  using workflows::RunStatus;
  const char* status = r.status == RunStatus::kFinished ? "finished"
                       : r.status == RunStatus::kPaused ? "paused"
                       : r.status == RunStatus::kFailed ? "failed"
                                                        : "running";
  if (json_output) {
    nlohmann::json out = {{"run_id", r.run_id},
                          {"status", status},
                          {"steps", r.steps},
                          {"outputs", r.outputs},
                          {"run_dir", r.run_dir}};
    if (!r.error.empty()) out["error"] = r.error;
    if (r.status == RunStatus::kPaused) out["prompt"] = r.prompt;
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::fprintf(stderr, "run %s: %s after %d steps (%s)\n", r.run_id.c_str(), status, r.steps,
                 r.run_dir.c_str());
    if (r.status == RunStatus::kFinished) std::printf("%s\n", r.outputs.dump(2).c_str());
    if (r.status == RunStatus::kPaused) {
      std::printf("%s\n", r.prompt.c_str());
      std::fprintf(stderr, "continue with: quicksilver resume %s --input VALUE\n",
                   r.run_id.c_str());
    }
  }
  if (r.status == RunStatus::kFailed) {
    std::fprintf(stderr,
                 "quicksilver %s: error: run %s failed: %s (resume it with 'quicksilver "
                 "resume %s' once the cause is fixed)\n",
                 command.c_str(), r.run_id.c_str(), r.error.c_str(), r.run_id.c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

std::string BuiltinModelDir() {
  if (const char* env = std::getenv("QS_BUILTIN_MODEL"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(QS_SOURCE_DIR) + "/models/builtin";
}

StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> LoadCliAgentModel(
    const std::string& path, const std::string& tokenizer_dir, int64_t seed) {
  std::string dir = path;
  if (dir == "random") {
    if (tokenizer_dir.empty()) return InvalidArgument("--model random needs --tokenizer DIR");
    return agent::DiffusionAgentModel::Random(tokenizer_dir, static_cast<uint64_t>(seed));
  }
  if (dir == "builtin") {
    dir = BuiltinModelDir();
    if (!std::filesystem::is_directory(dir)) {
      return NotFound("the workflow uses the built-in model, and " + dir +
                      " does not exist: this checkout does not ship it (yet). Pass --model DIR "
                      "(a LLaDA or Dream checkpoint folder with tokenizer.json) or set "
                      "QS_BUILTIN_MODEL");
    }
  }
  return agent::DiffusionAgentModel::Load(dir);
}

int RunRun(const std::vector<std::string>& args) {
  std::vector<std::string> input_pairs;
  std::string runs_dir = "runs", model_dir, tokenizer_dir;
  int64_t seed = 0;
  bool json_output = false;
  FlagSet flags("run",
                "Run a workflow (docs/WORKFLOWS.md). Every node is checkpointed in\n"
                "RUNS_DIR/RUN_ID/run.sqlite with a JSONL trace beside it; a paused, failed or\n"
                "killed run continues with 'quicksilver resume RUN_ID'.",
                "FILE.yaml");
  flags.Repeated("input", &input_pairs, "An input as NAME=VALUE (JSON unless declared string)");
  flags.String("runs-dir", &runs_dir, "Folder for run files");
  AddModelFlags(flags, &model_dir, &tokenizer_dir, &seed);
  flags.Bool("json", &json_output, "Print the result as JSON");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (flags.positional().size() != 1) return UsageError("run", "expected one FILE.yaml");
  std::optional<workflows::WorkflowSpec> spec = LoadSpec("run", flags.positional()[0]);
  if (!spec) return kExitFailure;
  nlohmann::json inputs;
  if (Status s = ParseInputs(*spec, input_pairs, &inputs); !s.ok()) {
    return UsageError("run", s.message());
  }
  StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> model =
      LoadAgentModel(*spec, model_dir, tokenizer_dir, seed);
  if (!model.ok()) return Failure("run", model.status().ToString());
  workflows::ExecutorOptions options;
  options.runs_dir = runs_dir;
  options.model = model->get();
  workflows::Executor executor(*spec, options);
  StatusOr<workflows::RunResult> r = executor.Start(inputs);
  if (!r.ok()) return Failure("run", r.status().ToString());
  return Report("run", *r, json_output);
}

int RunResume(const std::vector<std::string>& args) {
  std::string input, runs_dir = "runs", model_dir, tokenizer_dir;
  int64_t seed = 0;
  bool json_output = false;
  FlagSet flags("resume",
                "Continue a run from its last checkpoint: a paused run with the human input,\n"
                "a failed or killed run without. Completed steps are not repeated.",
                "RUN_ID");
  flags.String("input", &input, "The answer for a paused human node (JSON, or plain text)");
  flags.String("runs-dir", &runs_dir, "Folder for run files");
  AddModelFlags(flags, &model_dir, &tokenizer_dir, &seed);
  flags.Bool("json", &json_output, "Print the result as JSON");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (flags.positional().size() != 1) return UsageError("resume", "expected one RUN_ID");
  const std::string run_id = flags.positional()[0];
  if (!workflows::IsValidRunId(run_id)) {
    return UsageError("resume", "'" + run_id + "' is not a run id");
  }
  StatusOr<std::unique_ptr<workflows::RunStore>> store =
      workflows::RunStore::Open(runs_dir + "/" + run_id + "/run.sqlite");
  if (!store.ok()) return Failure("resume", store.status().ToString());
  StatusOr<workflows::RunRecord> record = (*store)->LoadRun();
  if (!record.ok()) return Failure("resume", record.status().ToString());
  store->reset();  // the executor opens the run itself
  std::optional<workflows::WorkflowSpec> spec = LoadSpec("resume", record->workflow_file);
  if (!spec) return kExitFailure;
  StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> model =
      LoadAgentModel(*spec, model_dir, tokenizer_dir, seed);
  if (!model.ok()) return Failure("resume", model.status().ToString());
  std::optional<nlohmann::json> human_input;
  if (!input.empty()) {
    nlohmann::json value = nlohmann::json::parse(input, nullptr, false);
    human_input = value.is_discarded() ? nlohmann::json(input) : value;
  }
  workflows::ExecutorOptions options;
  options.runs_dir = runs_dir;
  options.model = model->get();
  workflows::Executor executor(*spec, options);
  StatusOr<workflows::RunResult> r = executor.Resume(run_id, human_input);
  if (!r.ok()) return Failure("resume", r.status().ToString());
  return Report("resume", *r, json_output);
}

}  // namespace qs::cli
