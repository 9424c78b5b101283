// quicksilver eval: runs held-out agent tasks (examples/training/eval.jsonl, made by
// qs_make_corpus) through the real agent loop, with the constraint on, and scores them.
//
// Each line: {"workflow": PATH (relative to the set file), "inputs": {...}, "expect":
// {"first_turn": "answer" | CALL | [CALL, ...], "answer_contains": [...], "citations": [...]}}.
// Scores:
//   tool_selection    the first turn chose right: the expected tool(s) in order, or to answer
//   exact_arguments   over the tasks whose first turn is a call: tools and arguments exact
//   answer_accuracy   the run finished and its answer holds every expected string
//                     (case-insensitive) and, for document answers, the expected citations
//   retrieval_answer_accuracy  the same over the document (retrieval QA) tasks only
//   round_latency_ms  per model turn (one agent round), p50 and p90
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "runtime/agent/diffusion_agent.h"
#include "runtime/cli/command.h"
#include "runtime/json_schema/schema.h"
#include "workflows/executor.h"
#include "workflows/workflow_spec.h"

namespace qs::cli {

namespace {

using nlohmann::json;

// Records every turn of the model it wraps.
class RecordingModel : public workflows::AgentModel {
 public:
  explicit RecordingModel(workflows::AgentModel* inner) : inner_(inner) {}
  StatusOr<workflows::AgentResponse> Generate(const workflows::AgentRequest& request) override {
    const auto start = std::chrono::steady_clock::now();
    StatusOr<workflows::AgentResponse> r = inner_->Generate(request);
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (r.ok()) {
      turns.push_back(*r);
      bound_arguments.push_back(request.bound_arguments);
    }
    return r;
  }
  std::vector<workflows::AgentResponse> turns;
  std::vector<json> bound_arguments;  // per turn: what the executor adds to its calls
  std::vector<double> latencies_ms;

 private:
  workflows::AgentModel* inner_;
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

json CallsJson(const std::vector<workflows::AgentToolCall>& calls) {
  json out = json::array();
  for (const workflows::AgentToolCall& c : calls) {
    out.push_back({{"tool", c.tool}, {"arguments", c.arguments}});
  }
  return out;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t i = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

struct Score {
  int tasks = 0, selected = 0, call_tasks = 0, exact = 0, answered = 0, finished = 0;
  // Tasks whose expectation has citations (retrieval QA): gold span and citation.
  int retrieval_tasks = 0, retrieval_answered = 0;

  void Add(bool finished_run, bool was_selected, bool expects_call, bool was_exact,
           bool was_answered, bool retrieval) {
    ++tasks;
    finished += finished_run;
    selected += was_selected;
    call_tasks += expects_call;
    exact += was_exact;
    answered += was_answered;
    retrieval_tasks += retrieval;
    retrieval_answered += retrieval && was_answered;
  }
};

double Fraction(int n, int d) { return d > 0 ? static_cast<double>(n) / d : 0.0; }

json ScoreJson(const Score& s) {
  return {{"tasks", s.tasks},
          {"finished", s.finished},
          {"tool_selection", Fraction(s.selected, s.tasks)},
          {"exact_arguments", Fraction(s.exact, s.call_tasks)},
          {"call_tasks", s.call_tasks},
          {"answer_accuracy", Fraction(s.answered, s.tasks)},
          {"retrieval_answer_accuracy", Fraction(s.retrieval_answered, s.retrieval_tasks)},
          {"retrieval_tasks", s.retrieval_tasks}};
}

}  // namespace

int RunEval(const std::vector<std::string>& args) {
  const std::string cmd = "eval";
  std::string set_path = std::string(QS_SOURCE_DIR) + "/examples/training/eval.jsonl";
  std::string model_path = "builtin", tokenizer_dir, tool_base, runs_dir, draft = "workflow";
  int64_t limit = 0, seed = 0;
  bool json_output = false, verbose = false;
  FlagSet flags(cmd,
                "Run held-out agent tasks through the agent loop (constrained turns, real tools)\n"
                "and print tool-selection accuracy, exact-argument accuracy, answer accuracy and\n"
                "latency per round. The tools of the set's workflows must be reachable: start\n"
                "build/qs_example_tool_server --data examples/data (port 8765, or --tool-base).",
                "");
  flags.String("set", &set_path, "Evaluation set (JSONL)");
  flags.String("model", &model_path, "Checkpoint folder, 'builtin' or 'random'");
  flags.String("tokenizer", &tokenizer_dir, "Tokenizer folder for --model random");
  flags.Int("model-seed", &seed, "Seed of --model random's weights");
  flags.String("tool-base", &tool_base,
               "Send the workflows' HTTP tools to this server instead (http://HOST:PORT)");
  flags.Int("limit", &limit, "Run only the first N tasks (0 = all)");
  flags.String("draft", &draft,
               "workflow (each workflow's model.draft), on or off: drafted turns for every "
               "workflow, or constrained from the first token");
  flags.String("runs-dir", &runs_dir, "Keep the runs here (default: a temporary folder)");
  flags.Bool("json", &json_output, "Print the scores as one JSON object");
  flags.Bool("verbose", &verbose, "Print every task's result");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (!flags.positional().empty()) return UsageError(cmd, "eval takes no positional argument");
  if (draft != "workflow" && draft != "on" && draft != "off") {
    return UsageError(cmd, "--draft must be workflow, on or off, got '" + draft + "'");
  }

  std::ifstream in(set_path);
  if (!in) return Failure(cmd, "cannot open the evaluation set " + set_path);
  StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> model =
      LoadCliAgentModel(model_path, tokenizer_dir, seed);
  if (!model.ok()) return Failure(cmd, model.status().ToString());
  RecordingModel recorder(model->get());

  const bool temporary_runs = runs_dir.empty();
  if (temporary_runs) {
    runs_dir = (std::filesystem::temp_directory_path() / ("qs_eval_" + std::to_string(::getpid())))
                   .string();
  }
  const std::filesystem::path set_dir = std::filesystem::path(set_path).parent_path();
  std::map<std::string, workflows::WorkflowSpec> specs;
  Score score;
  std::map<std::string, Score> by_workflow;  // by the workflow's name
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (limit > 0 && score.tasks >= limit) break;
    const json task = json::parse(line, nullptr, false);
    const bool well_formed = task.is_object() && task.contains("workflow") &&
                             task["workflow"].is_string() && task.contains("expect") &&
                             task["expect"].is_object() && task["expect"].contains("first_turn") &&
                             task.value("inputs", json::object()).is_object();
    auto strings_or_absent = [&](const char* key) {
      if (!well_formed || !task["expect"].contains(key)) return true;
      const json& v = task["expect"][key];
      return v.is_array() &&
             std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); });
    };
    if (!well_formed || !strings_or_absent("answer_contains") || !strings_or_absent("citations")) {
      return Failure(cmd, set_path + ":" + std::to_string(n) +
                              ": expected {\"workflow\": PATH, \"inputs\": {...}, \"expect\": "
                              "{\"first_turn\": ..., \"answer_contains\": [strings], "
                              "\"citations\": [strings]}} as JSON (docs/TRAINING.md)");
    }
    const std::string workflow = (set_dir / task["workflow"].get<std::string>()).string();
    if (!specs.count(workflow)) {
      StatusOr<workflows::WorkflowSpec> spec =
          workflows::LoadWorkflowFile(workflow, CliWorkflowOptions());
      if (!spec.ok()) return Failure(cmd, spec.status().ToString());
      if (!tool_base.empty()) {
        if (Status s = workflows::RebaseHttpTools(&*spec, tool_base); !s.ok()) {
          return UsageError(cmd, s.message());
        }
      }
      if (draft != "workflow") spec->model.draft = draft == "on";
      specs.emplace(workflow, std::move(spec).value());
    }
    workflows::ExecutorOptions options;
    options.runs_dir = runs_dir;
    options.model = &recorder;
    workflows::Executor executor(specs.at(workflow), options);
    recorder.turns.clear();
    recorder.bound_arguments.clear();
    StatusOr<workflows::RunResult> r = executor.Start(task.value("inputs", json::object()));
    if (!r.ok())
      return Failure(cmd, set_path + ":" + std::to_string(n) + ": " + r.status().ToString());

    const json& expect = task["expect"];
    bool selected = false, exact = false, answered = false;
    const bool expects_call = expect["first_turn"] != "answer";
    if (!recorder.turns.empty()) {
      const workflows::AgentResponse& first = recorder.turns[0];
      if (!expects_call) {
        selected = first.answer.has_value();
      } else {
        json want = expect["first_turn"].is_array() ? expect["first_turn"]
                                                    : json::array({expect["first_turn"]});
        // The calls as they ran: arguments the workflow binds count as given.
        json got =
            CallsJson(workflows::WithBoundArguments(recorder.bound_arguments[0], first.tool_calls));
        selected = got.size() == want.size();
        for (size_t i = 0; selected && i < got.size(); ++i) {
          selected = got[i]["tool"] == want[i]["tool"];
        }
        exact = got == want;
      }
    }
    json answer = r->status == workflows::RunStatus::kFinished && !r->outputs.empty()
                      ? r->outputs.begin().value()
                      : json();
    if (!answer.is_null()) {
      const std::string text =
          Lower(answer.is_string() ? answer.get<std::string>() : answer.dump());
      answered = true;
      for (const json& want : expect.value("answer_contains", json::array())) {
        answered = answered && text.find(Lower(want.get<std::string>())) != std::string::npos;
      }
      if (expect.contains("citations")) {
        const json got = answer.is_object() ? answer.value("citations", json::array()) : json();
        for (const json& c : expect["citations"]) {
          answered =
              answered && got.is_array() && std::find(got.begin(), got.end(), c) != got.end();
        }
      }
    }
    const bool finished = r->status == workflows::RunStatus::kFinished;
    for (Score* s : {&score, &by_workflow[specs.at(workflow).name]}) {
      s->Add(finished, selected, expects_call, exact, answered, expect.contains("citations"));
    }
    if (verbose) {
      std::fprintf(
          stderr, "%4d %s %s %s  %s -> %s%s\n", n, selected ? "tool:ok " : "tool:BAD",
          expects_call ? (exact ? "args:ok " : "args:BAD") : "        ",
          answered ? "answer:ok " : "answer:BAD", task["inputs"].value("question", "").c_str(),
          answer.is_null() ? r->error.c_str() : answer.dump().c_str(),
          recorder.turns.empty()
              ? ""
              : (" [first turn " +
                 (recorder.turns[0].answer
                      ? std::string("answer")
                      : CallsJson(workflows::WithBoundArguments(recorder.bound_arguments[0],
                                                                recorder.turns[0].tool_calls))
                            .dump()) +
                 "]")
                    .c_str());
    }
    if (temporary_runs) std::filesystem::remove_all(r->run_dir);
  }
  if (temporary_runs) std::filesystem::remove_all(runs_dir);
  if (score.tasks == 0) return Failure(cmd, set_path + " has no tasks");

  json out = ScoreJson(score);
  out["model_turns"] = recorder.latencies_ms.size();
  out["round_latency_ms_p50"] = Percentile(recorder.latencies_ms, 0.5);
  out["round_latency_ms_p90"] = Percentile(recorder.latencies_ms, 0.9);
  out["model"] = model_path;
  out["draft"] = draft;
  out["set"] = set_path;
  out["by_workflow"] = json::object();
  for (const auto& [name, s] : by_workflow) out["by_workflow"][name] = ScoreJson(s);
  if (json_output) {
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  // The retrieval line always for the whole set, per workflow only where it has such tasks.
  auto print = [](const char* indent, const Score& s, bool whole_set) {
    std::printf(
        "%stool selection    %.3f  (%d/%d)\n"
        "%sexact arguments   %.3f  (%d/%d tasks whose first turn is a call)\n"
        "%sanswer accuracy   %.3f  (%d/%d)\n",
        indent, Fraction(s.selected, s.tasks), s.selected, s.tasks, indent,
        Fraction(s.exact, s.call_tasks), s.exact, s.call_tasks, indent,
        Fraction(s.answered, s.tasks), s.answered, s.tasks);
    if (s.retrieval_tasks > 0 || whole_set) {
      std::printf("%sretrieval answers %.3f  (%d/%d with the gold span and its citation)\n", indent,
                  Fraction(s.retrieval_answered, s.retrieval_tasks), s.retrieval_answered,
                  s.retrieval_tasks);
    }
  };
  std::printf("%d tasks (%d finished), model %s\n", score.tasks, score.finished,
              model_path.c_str());
  print("  ", score, true);
  std::printf("  latency per round p50 %.1f ms, p90 %.1f ms over %zu model turns\n",
              Percentile(recorder.latencies_ms, 0.5), Percentile(recorder.latencies_ms, 0.9),
              recorder.latencies_ms.size());
  for (const auto& [name, s] : by_workflow) {
    std::printf("  %s: %d tasks\n", name.c_str(), s.tasks);
    print("    ", s, false);
  }
  return kExitOk;
}

}  // namespace qs::cli
