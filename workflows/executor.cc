#include "workflows/executor.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "base/files.h"
#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"
#include "tools/http_tool.h"
#include "tools/retrieval.h"
#include "workflows/template.h"
#include "workflows/trace.h"

namespace qs::workflows {

using nlohmann::json;

namespace {

// Where a node runs: at the top level, or as a map's body for one item.
struct Scope {
  const json* item = nullptr;
  int index = -1;
  std::string key_prefix;  // "item/3/" inside a map: partial results stay distinct per item
};

// The outcome of one tool call, as the model, the checkpoint and the trace see it.
struct ToolOutcome {
  bool ok = false;
  json output;
  std::string error;
  std::string error_kind;
  int http_status = 0;
  int attempts = 0;
  double latency_ms = 0;

  json ToJson() const {
    return {{"ok", ok},
            {"output", output},
            {"error", error},
            {"error_kind", error_kind},
            {"http_status", http_status},
            {"attempts", attempts},
            {"latency_ms", latency_ms}};
  }
  static ToolOutcome FromJson(const json& j) {
    ToolOutcome o;
    o.ok = j.value("ok", false);
    o.output = j.value("output", json());
    o.error = j.value("error", "");
    o.error_kind = j.value("error_kind", "");
    o.http_status = j.value("http_status", 0);
    o.attempts = j.value("attempts", 0);
    o.latency_ms = j.value("latency_ms", 0.0);
    return o;
  }
  // What the model reads in the tool message.
  std::string ForModel() const {
    return ok ? DumpJson(output) : DumpJson({{"error", error}, {"error_kind", error_kind}});
  }
};

ToolOutcome ToolFailure(const std::string& kind, const std::string& error) {
  ToolOutcome o;
  o.error_kind = kind;
  o.error = error;
  return o;
}

// Walks dotted segments into objects (by key) and arrays (by 0-based index).
std::optional<json> Walk(const json& root, const std::vector<std::string>& path) {
  const json* v = &root;
  for (const std::string& segment : path) {
    if (v->is_object()) {
      auto it = v->find(segment);
      if (it == v->end()) return std::nullopt;
      v = &*it;
    } else if (v->is_array()) {
      if (segment.empty() ||
          !std::all_of(segment.begin(), segment.end(),
                       [](char c) { return c >= '0' && c <= '9'; }) ||
          segment.size() > 9) {
        return std::nullopt;
      }
      size_t i = std::stoul(segment);
      if (i >= v->size()) return std::nullopt;
      v = &(*v)[i];
    } else {
      return std::nullopt;
    }
  }
  return *v;
}

// Checks value against a JSON Schema; the message names the first violation.
Status CheckSchema(const json& schema, const json& value) {
  if (schema.is_null()) return Status::Ok();
  StatusOr<json_schema::Schema> compiled = json_schema::Compile(schema);
  if (!compiled.ok()) return compiled.status().WithContext("schema does not compile");
  return json_schema::Validate(*compiled, value);
}

bool HasType(const json& v, ValueType type) {
  switch (type) {
    case ValueType::kString:
      return v.is_string();
    case ValueType::kNumber:
      return v.is_number();
    case ValueType::kInteger:
      return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                       std::floor(v.get<double>()) == v.get<double>());
    case ValueType::kBoolean:
      return v.is_boolean();
    case ValueType::kObject:
      return v.is_object();
    case ValueType::kArray:
      return v.is_array();
  }
  return false;
}

double ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// An exclusive lock on a run, held for one whole Start / Resume call, so that two processes
// never continue the same run at once. The kernel drops a flock when its process dies, even
// by SIGKILL, so a killed run never stays locked.
class RunLock {
 public:
  RunLock() = default;
  ~RunLock() {
    if (fd_ >= 0) close(fd_);
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  Status Acquire(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Internal("cannot open " + path + ": " + std::strerror(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      return FailedPrecondition("the run is in progress in another process (" + path +
                                " is locked)");
    }
    return Status::Ok();
  }

 private:
  int fd_ = -1;
};

// A bound value that renders to nothing: null, or an empty string.
bool HasEmptyValue(const json& values) {
  for (const auto& [name, value] : values.items()) {
    if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) return true;
  }
  return false;
}

}  // namespace

json WithoutParameters(json parameters, const json& bound) {
  for (const auto& [name, value] : bound.items()) {
    if (parameters.contains("properties") && parameters["properties"].is_object()) {
      parameters["properties"].erase(name);
    }
    if (parameters.contains("required") && parameters["required"].is_array()) {
      json kept = json::array();
      for (const json& r : parameters["required"]) {
        if (r != name) kept.push_back(r);
      }
      if (kept.empty()) {
        parameters.erase("required");
      } else {
        parameters["required"] = std::move(kept);
      }
    }
  }
  return parameters;
}

std::vector<AgentToolCall> WithBoundArguments(const json& bound_arguments,
                                              std::vector<AgentToolCall> calls) {
  for (AgentToolCall& call : calls) {
    auto it = bound_arguments.find(call.tool);
    if (it == bound_arguments.end()) continue;
    if (!call.arguments.is_object()) call.arguments = json::object();
    for (const auto& [name, value] : it->items()) call.arguments[name] = value;
  }
  return calls;
}

json AgentResponseToJson(const AgentResponse& response) {
  json calls = json::array();
  for (const AgentToolCall& c : response.tool_calls) {
    calls.push_back({{"id", c.id}, {"tool", c.tool}, {"arguments", c.arguments}});
  }
  return {{"tool_calls", calls},
          {"has_answer", response.answer.has_value()},
          {"answer", response.answer.value_or(json())},
          {"stats",
           {{"model_name", response.stats.model_name},
            {"input_tokens", response.stats.input_tokens},
            {"output_tokens", response.stats.output_tokens},
            {"denoising_steps", response.stats.denoising_steps},
            {"model_calls", response.stats.model_calls},
            {"forced_tokens", response.stats.forced_tokens},
            {"draft_kept_tokens", response.stats.draft_kept_tokens},
            {"constraint_ms", response.stats.constraint_ms},
            {"latency_ms", response.stats.latency_ms}}}};
}

StatusOr<AgentResponse> AgentResponseFromJson(const json& value) {
  if (!value.is_object() || !value.contains("tool_calls") || !value["tool_calls"].is_array()) {
    return InvalidArgument("a stored model turn is malformed");
  }
  AgentResponse r;
  for (const json& c : value["tool_calls"]) {
    if (!c.is_object()) return InvalidArgument("a stored tool call is malformed");
    r.tool_calls.push_back(
        {c.value("id", ""), c.value("tool", ""), c.value("arguments", json::object())});
  }
  if (value.value("has_answer", false)) r.answer = value.value("answer", json());
  const json stats = value.value("stats", json::object());
  r.stats.model_name = stats.value("model_name", "");
  r.stats.input_tokens = stats.value("input_tokens", int64_t{0});
  r.stats.output_tokens = stats.value("output_tokens", int64_t{0});
  r.stats.denoising_steps = stats.value("denoising_steps", 0);
  r.stats.model_calls = stats.value("model_calls", int64_t{0});
  r.stats.forced_tokens = stats.value("forced_tokens", int64_t{0});
  r.stats.draft_kept_tokens = stats.value("draft_kept_tokens", int64_t{-1});
  r.stats.constraint_ms = stats.value("constraint_ms", 0.0);
  r.stats.latency_ms = stats.value("latency_ms", 0.0);
  return r;
}

// One run in progress: its store, trace and state, and the node logic.
//
// Thread safety: the loop in Continue owns the Run. Inside one node, map items and parallel
// tool calls run on their own threads; they only read `state` and `inputs` (the reducer
// writes the state between nodes), and the replay map, the commit counter, the model and
// retrieval indexes each have a mutex (the store and the trace lock themselves).
struct Executor::Run {
  const WorkflowSpec& spec;
  const ExecutorOptions& options;
  std::string id;
  std::string dir;
  RunLock lock;  // declared before the store: released after it closes
  std::unique_ptr<RunStore> store;
  TraceWriter trace;
  json inputs;
  json state;

  // Partial results of the step that was running when a previous process stopped: replayed
  // instead of calling the tool or the model again.
  int replay_step = 0;
  std::map<std::string, json> replay;
  std::mutex replay_mu;

  std::mutex commit_mu;
  int commits = 0;
  std::mutex model_mu;     // one model call at a time
  std::mutex retrieve_mu;  // one writer per retrieval index

  Run(const WorkflowSpec& s, const ExecutorOptions& o) : spec(s), options(o) {}

  std::optional<json> Replayed(int step, const std::string& key) {
    std::lock_guard<std::mutex> lock(replay_mu);
    if (step != replay_step) return std::nullopt;
    auto it = replay.find(key);
    if (it == replay.end()) return std::nullopt;
    return it->second;
  }

  Status Commit(const Checkpoint& c, bool answers_pending = false) {
    QS_RETURN_IF_ERROR(store->AddCheckpoint(c, answers_pending));
    if (!options.after_checkpoint) return Status::Ok();
    std::lock_guard<std::mutex> lock(commit_mu);
    ++commits;
    options.after_checkpoint({id, c.step, c.node_id, c.kind, c.key, commits});
    return Status::Ok();
  }

  Status SavePartial(int step, const std::string& node_id, CheckpointKind kind,
                     const std::string& key, const json& result) {
    Checkpoint c;
    c.step = step;
    c.node_id = node_id;
    c.kind = kind;
    c.key = key;
    c.state = state;
    c.result = result;
    return Commit(c);
  }

  // --- templates and paths ---

  std::optional<json> Resolve(const TemplateRef& ref, const Scope& scope) const {
    if (ref.root == "inputs") return Walk(inputs, ref.path);
    if (ref.root == "state") return Walk(state, ref.path);
    if (ref.root == "item") {
      if (!scope.item) return std::nullopt;
      return Walk(*scope.item, ref.path);
    }
    if (ref.root == "index" && scope.index >= 0) return json(scope.index);
    return std::nullopt;
  }

  StatusOr<json> ResolvePath(const std::string& path) const {
    QS_ASSIGN_OR_RETURN(TemplateRef ref, ParseValuePath(path));
    return Resolve(ref, Scope{}).value_or(json());
  }

  // A whole-reference template keeps the value's type; anything else becomes text.
  StatusOr<json> Render(const std::string& text, const Scope& scope) const {
    QS_ASSIGN_OR_RETURN(Template tpl, ParseTemplate(text));
    if (tpl.IsWholeReference()) return Resolve(tpl.parts[0].ref, scope).value_or(json());
    std::string out;
    for (const TemplatePart& part : tpl.parts) {
      if (!part.is_ref) {
        out += part.literal;
        continue;
      }
      std::optional<json> v = Resolve(part.ref, scope);
      if (!v) continue;  // missing: the empty string
      out += v->is_string() ? v->get<std::string>() : DumpJson(*v);
    }
    return json(out);
  }

  StatusOr<std::string> RenderText(const std::string& text, const Scope& scope) const {
    QS_ASSIGN_OR_RETURN(json v, Render(text, scope));
    if (v.is_string()) return v.get<std::string>();
    return v.is_null() ? std::string() : DumpJson(v);
  }

  // Tool arguments: strings are templates, containers are rendered member by member.
  StatusOr<json> RenderValue(const json& value, const Scope& scope) const {
    if (value.is_string()) return Render(value.get<std::string>(), scope);
    if (value.is_array()) {
      json out = json::array();
      for (const json& v : value) {
        QS_ASSIGN_OR_RETURN(json r, RenderValue(v, scope));
        out.push_back(std::move(r));
      }
      return out;
    }
    if (value.is_object()) {
      json out = json::object();
      for (auto it = value.begin(); it != value.end(); ++it) {
        QS_ASSIGN_OR_RETURN(json r, RenderValue(it.value(), scope));
        out[it.key()] = std::move(r);
      }
      return out;
    }
    return value;
  }

  // --- state ---

  Status ApplyReducer(const std::string& node_id, const std::string& key, const json& value) {
    const StateKeySpec* key_spec = spec.FindStateKey(key);
    Reducer reducer = key_spec ? key_spec->reducer : Reducer::kOverwrite;
    json& current = state[key];
    switch (reducer) {
      case Reducer::kOverwrite:
        current = value;
        break;
      case Reducer::kAppend:
        if (!current.is_array()) current = json::array();
        current.push_back(value);
        break;
      case Reducer::kMerge:
        if (!value.is_object()) {
          return InvalidArgument("node '" + node_id + "' returned " + value.type_name() +
                                 ", but state key '" + key + "' merges objects");
        }
        if (!current.is_object()) current = json::object();
        for (auto it = value.begin(); it != value.end(); ++it) current[it.key()] = it.value();
        break;
    }
    return Status::Ok();
  }

  // --- tools ---

  StatusOr<ToolOutcome> CallTool(const WorkflowTool& tool, const json& arguments, int step,
                                 const std::string& node_id, const std::string& key,
                                 const std::string& call_id, bool persist_failures) {
    ToolOutcome outcome;
    bool replayed = false;
    if (std::optional<json> stored = Replayed(step, key)) {
      outcome = ToolOutcome::FromJson(*stored);
      replayed = true;
    } else {
      outcome = RunTool(tool, arguments);
    }
    json event = {{"gen_ai.operation.name", "execute_tool"},
                  {"gen_ai.tool.name", tool.name},
                  {"gen_ai.tool.call.id", call_id},
                  {"qs.step", step},
                  {"qs.node.id", node_id},
                  {"qs.status", outcome.ok ? "ok" : "error"},
                  {"qs.attempts", outcome.attempts},
                  {"qs.latency_ms", outcome.latency_ms},
                  {"qs.replayed", replayed}};
    if (outcome.http_status != 0) event["http.response.status_code"] = outcome.http_status;
    if (!outcome.ok) {
      event["error.type"] = outcome.error_kind;
      event["qs.error"] = outcome.error;
    }
    trace.Emit("tool.call", event);
    if (!replayed && (outcome.ok || persist_failures)) {
      QS_RETURN_IF_ERROR(
          SavePartial(step, node_id, CheckpointKind::kToolResult, key, outcome.ToJson()));
    }
    return outcome;
  }

  ToolOutcome RunTool(const WorkflowTool& tool, const json& arguments) {
    Status args_ok = CheckSchema(tool.spec().parameters, arguments);
    if (!args_ok.ok()) {
      return ToolFailure("bad_arguments",
                         "arguments for tool '" + tool.name +
                             "' do not match its parameters: " + args_ok.message());
    }
    ToolOutcome outcome;
    if (tool.kind == ToolKind::kHttp) {
      tools::HttpToolExecutor http(spec.allow_hosts);
      http.sleep = options.sleep;
      http.getenv = options.getenv;
      tools::ToolCallResult r = http.Call(tool.http, arguments);
      outcome.ok = r.ok;
      outcome.output = r.output;
      outcome.error = r.error;
      outcome.error_kind = r.error_kind;
      outcome.http_status = r.http_status;
      outcome.attempts = r.attempts;
      outcome.latency_ms = r.latency_ms;
    } else {
      auto start = std::chrono::steady_clock::now();
      outcome = RunRetrieve(tool, arguments);
      outcome.attempts = 1;
      outcome.latency_ms = ElapsedMs(start);
    }
    if (outcome.ok && !tool.output_schema.is_null()) {
      Status out_ok = CheckSchema(tool.output_schema, outcome.output);
      if (!out_ok.ok()) {
        outcome.ok = false;
        outcome.error_kind = "bad_output";
        outcome.error = "the response of tool '" + tool.name +
                        "' does not match its output_schema: " + out_ok.message();
        outcome.output = json();
      }
    }
    return outcome;
  }

  ToolOutcome RunRetrieve(const WorkflowTool& tool, const json& arguments) {
    std::lock_guard<std::mutex> lock(retrieve_mu);
    std::string index_path = tool.retrieve.index_path.empty()
                                 ? dir + "/retrieve_" + tool.name + ".sqlite"
                                 : tool.retrieve.index_path;
    StatusOr<std::unique_ptr<tools::DocumentIndex>> index = tools::DocumentIndex::Open(index_path);
    if (!index.ok()) return ToolFailure("retrieve", index.status().message());
    tools::IndexOptions options;
    options.chunking.sentences = tool.retrieve.sentence_chunks;
    if (!tool.retrieve.questions_path.empty()) {
      StatusOr<std::vector<tools::PassageQuestions>> questions =
          tools::LoadPassageQuestions(tool.retrieve.questions_path);
      if (!questions.ok()) return ToolFailure("retrieve", questions.status().message());
      options.questions = std::move(*questions);
    }
    StatusOr<tools::IndexStats> indexed = (*index)->IndexFolder(tool.retrieve.folder_path, options);
    if (!indexed.ok()) return ToolFailure("retrieve", indexed.status().message());
    StatusOr<json> found =
        tools::RunRetrieveTool(**index, arguments, tool.retrieve.k, tool.retrieve.min_score);
    if (!found.ok()) return ToolFailure("retrieve", found.status().message());
    ToolOutcome o;
    o.ok = true;
    o.output = *found;
    return o;
  }

  // --- the model ---

  StatusOr<AgentResponse> ModelTurn(int step, const std::string& node_id, const std::string& key,
                                    const AgentRequest& request, int round) {
    AgentResponse response;
    bool replayed = false;
    if (std::optional<json> stored = Replayed(step, key)) {
      QS_ASSIGN_OR_RETURN(response, AgentResponseFromJson(*stored));
      replayed = true;
    } else {
      if (!options.model) {
        return FailedPrecondition("node '" + node_id + "' needs a model, and none is loaded");
      }
      auto start = std::chrono::steady_clock::now();
      {
        std::lock_guard<std::mutex> lock(model_mu);
        QS_ASSIGN_OR_RETURN(response, options.model->Generate(request));
      }
      if (response.stats.latency_ms == 0) response.stats.latency_ms = ElapsedMs(start);
      if (response.answer.has_value() == !response.tool_calls.empty()) {
        return Internal("the model returned " +
                        std::string(response.answer ? "both an answer and tool calls"
                                                    : "neither an answer nor tool calls"));
      }
    }
    trace.Emit("gen_ai.generation", {{"gen_ai.operation.name", "chat"},
                                     {"gen_ai.request.model", spec.model.path},
                                     {"gen_ai.response.model", response.stats.model_name},
                                     {"gen_ai.usage.input_tokens", response.stats.input_tokens},
                                     {"gen_ai.usage.output_tokens", response.stats.output_tokens},
                                     {"qs.denoising_steps", response.stats.denoising_steps},
                                     {"qs.model_calls", response.stats.model_calls},
                                     {"qs.forced_tokens", response.stats.forced_tokens},
                                     {"qs.draft_kept_tokens", response.stats.draft_kept_tokens},
                                     {"qs.constraint_ms", response.stats.constraint_ms},
                                     {"qs.latency_ms", response.stats.latency_ms},
                                     {"qs.step", step},
                                     {"qs.node.id", node_id},
                                     {"qs.round", round},
                                     {"qs.replayed", replayed}});
    if (!replayed) {
      QS_RETURN_IF_ERROR(
          SavePartial(step, node_id, CheckpointKind::kModel, key, AgentResponseToJson(response)));
    }
    return response;
  }

  StatusOr<std::vector<ChatMessage>> FirstMessages(const std::string& system,
                                                   const std::string& prompt,
                                                   const Scope& scope) const {
    std::vector<ChatMessage> messages;
    if (!system.empty()) {
      QS_ASSIGN_OR_RETURN(std::string text, RenderText(system, scope));
      messages.push_back({"system", text, {}, "", ""});
    }
    QS_ASSIGN_OR_RETURN(std::string text, RenderText(prompt, scope));
    messages.push_back({"user", text, {}, "", ""});
    return messages;
  }

  // --- nodes ---

  StatusOr<json> RunNode(const NodeSpec& node, int step, const Scope& scope) {
    switch (node.type) {
      case NodeType::kTool:
        return RunToolNode(node, std::get<ToolNode>(node.config), step, scope);
      case NodeType::kRetrieve:
        return RunRetrieveNode(node, std::get<RetrieveNode>(node.config), step, scope);
      case NodeType::kLlm:
        return RunLlmNode(node, std::get<LlmNode>(node.config), step, scope);
      case NodeType::kAgent:
        return RunAgentNode(node, std::get<AgentNode>(node.config), step, scope);
      case NodeType::kMap:
        return RunMapNode(node, std::get<MapNode>(node.config), step);
      case NodeType::kRouter:
      case NodeType::kHuman:
        break;
    }
    return Internal("node '" + node.id + "' cannot run here");
  }

  StatusOr<json> RunToolNode(const NodeSpec& node, const ToolNode& config, int step,
                             const Scope& scope) {
    const WorkflowTool* tool = spec.FindTool(config.tool);
    if (!tool) return NotFound("tool node '" + node.id + "': no tool '" + config.tool + "'");
    QS_ASSIGN_OR_RETURN(json arguments, RenderValue(config.arguments, scope));
    // A failed call ends the run, so it is not checkpointed: resuming retries it.
    QS_ASSIGN_OR_RETURN(ToolOutcome outcome, CallTool(*tool, arguments, step, node.id,
                                                      scope.key_prefix + "call", node.id, false));
    if (!outcome.ok) {
      return Unavailable("tool node '" + node.id + "': tool '" + tool->name + "' failed (" +
                         outcome.error_kind + "): " + outcome.error);
    }
    return outcome.output;
  }

  StatusOr<json> RunRetrieveNode(const NodeSpec& node, const RetrieveNode& config, int step,
                                 const Scope& scope) {
    QS_ASSIGN_OR_RETURN(std::string query, RenderText(config.query, scope));
    WorkflowTool folder_tool;
    const WorkflowTool* tool = nullptr;
    if (!config.tool.empty()) {
      tool = spec.FindTool(config.tool);
      if (!tool) return NotFound("retrieve node '" + node.id + "': no tool '" + config.tool + "'");
    } else {
      folder_tool.name = node.id;
      folder_tool.kind = ToolKind::kRetrieve;
      folder_tool.retrieve.spec = tools::RetrieveToolSpec(node.id);
      folder_tool.retrieve.folder_path = config.folder_path;
      folder_tool.retrieve.k = config.k;
      tool = &folder_tool;
    }
    json arguments = {{"query", query}, {"k", config.k}};
    QS_ASSIGN_OR_RETURN(ToolOutcome outcome, CallTool(*tool, arguments, step, node.id,
                                                      scope.key_prefix + "call", node.id, false));
    if (!outcome.ok) {
      return Unavailable("retrieve node '" + node.id + "' failed: " + outcome.error);
    }
    return outcome.output;
  }

  StatusOr<json> RunLlmNode(const NodeSpec& node, const LlmNode& config, int step,
                            const Scope& scope) {
    AgentRequest request;
    request.node_id = node.id;
    QS_ASSIGN_OR_RETURN(request.messages, FirstMessages(config.system, config.prompt, scope));
    request.answer_schema = config.schema;
    request.model = &spec.model;
    QS_ASSIGN_OR_RETURN(AgentResponse response,
                        ModelTurn(step, node.id, scope.key_prefix + "model", request, 1));
    if (!response.answer) {
      return Internal("llm node '" + node.id + "': the model called tools instead of answering");
    }
    json answer = *response.answer;
    if (config.schema.is_null() && !answer.is_string()) answer = DumpJson(answer);
    Status valid = CheckSchema(config.schema, answer);
    if (!valid.ok()) {
      return Internal("llm node '" + node.id +
                      "': the result does not match its schema: " + valid.message());
    }
    return answer;
  }

  StatusOr<json> RunAgentNode(const NodeSpec& node, const AgentNode& config, int step,
                              const Scope& scope) {
    AgentRequest request;
    request.node_id = node.id;
    QS_ASSIGN_OR_RETURN(request.messages, FirstMessages(config.system, config.prompt, scope));
    for (const std::string& name : config.tools) {
      const WorkflowTool* tool = spec.FindTool(name);
      if (!tool) return NotFound("agent node '" + node.id + "': no tool '" + name + "'");
      tools::ToolSpec offered = tool->spec();
      if (config.bind.contains(name)) {
        QS_ASSIGN_OR_RETURN(json values, RenderValue(config.bind[name], scope));
        // Without its bound value the tool cannot run as the workflow means it (say, no
        // customer account): the model does not get it this time.
        if (HasEmptyValue(values)) continue;
        // A value the parameter's schema refuses would fail every call, and the model could
        // not change it: the node fails here, naming the bind.
        const json& properties = offered.parameters.value("properties", json::object());
        for (const auto& [param, value] : values.items()) {
          if (!properties.is_object() || !properties.contains(param)) continue;
          if (Status ok = CheckSchema(properties[param], value); !ok.ok()) {
            return InvalidArgument("agent node '" + node.id + "': the bound value of '" + param +
                                   "' for tool '" + name +
                                   "' does not fit the parameter: " + ok.message() +
                                   " (check the input or state it comes from, or the bind)");
          }
        }
        offered.parameters = WithoutParameters(offered.parameters, values);
        request.bound_arguments[name] = std::move(values);
      }
      request.tools.push_back(std::move(offered));
    }
    request.answer_schema = config.answer_schema;
    request.model = &spec.model;
    for (int round = 1; round <= config.max_rounds; ++round) {
      const std::string round_key = scope.key_prefix + "round/" + std::to_string(round) + "/";
      QS_ASSIGN_OR_RETURN(AgentResponse response,
                          ModelTurn(step, node.id, round_key + "model", request, round));
      trace.Emit("agent.round", {{"gen_ai.operation.name", "invoke_agent"},
                                 {"gen_ai.agent.name", node.id},
                                 {"qs.step", step},
                                 {"qs.round", round},
                                 {"qs.tool_calls", response.tool_calls.size()},
                                 {"qs.final", response.answer.has_value()}});
      if (response.answer) {
        json answer = *response.answer;
        if (config.answer_schema.is_null() && !answer.is_string()) answer = DumpJson(answer);
        Status valid = CheckSchema(config.answer_schema, answer);
        if (valid.ok()) return answer;
        // The constraint should prevent this; tell the model and let it answer again.
        request.messages.push_back({"assistant", DumpJson(answer), {}, "", ""});
        request.messages.push_back(
            {"user",
             "The answer does not match the answer schema: " + valid.message(),
             {},
             "",
             ""});
        continue;
      }
      std::vector<AgentToolCall> calls = response.tool_calls;
      for (size_t i = 0; i < calls.size(); ++i) {
        if (calls[i].id.empty()) {
          calls[i].id = "call_" + std::to_string(round) + "_" + std::to_string(i);
        }
      }
      // The conversation keeps the calls as the model wrote them; they run with the bound
      // values added.
      request.messages.push_back({"assistant", "", calls, "", ""});
      QS_ASSIGN_OR_RETURN(std::vector<ToolOutcome> outcomes,
                          RunAgentCalls(node, request, step, round_key,
                                        WithBoundArguments(request.bound_arguments, calls)));
      for (size_t i = 0; i < calls.size(); ++i) {
        request.messages.push_back(
            {"tool", outcomes[i].ForModel(), {}, calls[i].id, calls[i].tool});
      }
    }
    return OutOfRange("agent node '" + node.id + "' reached max_rounds (" +
                      std::to_string(config.max_rounds) +
                      ") without a final answer (raise max_rounds, or make the task smaller)");
  }

  // Runs one round's calls, concurrently when there are several; results in call order.
  StatusOr<std::vector<ToolOutcome>> RunAgentCalls(const NodeSpec& node,
                                                   const AgentRequest& request, int step,
                                                   const std::string& round_key,
                                                   const std::vector<AgentToolCall>& calls) {
    std::vector<StatusOr<ToolOutcome>> results(calls.size(), Internal("not run"));
    auto run_one = [&](size_t i) {
      const AgentToolCall& call = calls[i];
      const WorkflowTool* tool = nullptr;
      for (const tools::ToolSpec& offered : request.tools) {
        if (offered.name == call.tool) tool = spec.FindTool(call.tool);
      }
      if (!tool) {
        results[i] = ToolFailure("unknown_tool",
                                 "agent node '" + node.id + "' offers no tool named '" + call.tool +
                                     "' (not in its tools, or a bound value of it is empty)");
        return;
      }
      // Failed calls are checkpointed too: the model saw them and acted on them.
      results[i] = CallTool(*tool, call.arguments, step, node.id,
                            round_key + "call/" + std::to_string(i), call.id, true);
    };
    if (calls.size() == 1) {
      run_one(0);
    } else {
      std::vector<std::thread> threads;
      for (size_t i = 0; i < calls.size(); ++i) threads.emplace_back(run_one, i);
      for (std::thread& t : threads) t.join();
    }
    std::vector<ToolOutcome> outcomes;
    for (StatusOr<ToolOutcome>& r : results) {
      if (!r.ok()) return r.status();
      outcomes.push_back(std::move(*r));
    }
    return outcomes;
  }

  StatusOr<json> RunMapNode(const NodeSpec& node, const MapNode& config, int step) {
    QS_ASSIGN_OR_RETURN(json items, ResolvePath(config.over));
    if (!items.is_array()) {
      return InvalidArgument("map node '" + node.id + "': '" + config.over + "' is " +
                             items.type_name() + ", not a list");
    }
    const NodeSpec* body = spec.FindNode(config.node);
    if (!body) return NotFound("map node '" + node.id + "': no node '" + config.node + "'");
    const int n = static_cast<int>(items.size());
    std::vector<json> results(n);
    std::vector<Status> errors(n);
    std::atomic<int> next{0};
    auto worker = [&]() {
      for (int i = next++; i < n; i = next++) {
        const std::string key = "item/" + std::to_string(i);
        if (std::optional<json> stored = Replayed(step, key)) {
          results[i] = *stored;
          continue;
        }
        Scope scope{&items[static_cast<size_t>(i)], i, key + "/"};
        StatusOr<json> r = RunNode(*body, step, scope);
        if (r.ok()) {
          results[i] = *r;
          errors[i] = SavePartial(step, node.id, CheckpointKind::kItem, key, *r);
        } else {
          errors[i] = r.status();
        }
      }
    };
    const int workers = std::max(1, std::min(config.max_parallel, n));
    if (workers == 1) {
      worker();
    } else {
      std::vector<std::thread> threads;
      for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
      for (std::thread& t : threads) t.join();
    }
    for (int i = 0; i < n; ++i) {
      if (!errors[i].ok()) {
        return Status(errors[i].code(), "map node '" + node.id + "' item " + std::to_string(i) +
                                            ": " + errors[i].message());
      }
    }
    return json(results);
  }

  // --- routers ---

  StatusOr<bool> Holds(const Condition& c) const {
    QS_ASSIGN_OR_RETURN(TemplateRef ref, ParseValuePath(c.path));
    std::optional<json> found = Resolve(ref, Scope{});
    const json value = found.value_or(json());
    switch (c.op) {
      case Condition::Op::kEquals:
        return json_schema::JsonEqual(value, c.value);
      case Condition::Op::kNotEquals:
        return !json_schema::JsonEqual(value, c.value);
      case Condition::Op::kIn:
        for (const json& v : c.value) {
          if (json_schema::JsonEqual(value, v)) return true;
        }
        return false;
      case Condition::Op::kExists: {
        const bool present = !value.is_null();
        const bool wanted = c.value.is_boolean() && c.value.get<bool>();
        return present == wanted;
      }
      case Condition::Op::kGreaterThan:
        return value.is_number() && c.value.is_number() &&
               value.get<double>() > c.value.get<double>();
      case Condition::Op::kLessThan:
        return value.is_number() && c.value.is_number() &&
               value.get<double>() < c.value.get<double>();
    }
    return false;
  }

  StatusOr<std::string> ChooseRoute(const RouterNode& router) const {
    for (const Route& route : router.routes) {
      QS_ASSIGN_OR_RETURN(bool holds, Holds(route.when));
      if (holds) return route.to;
    }
    return router.default_to;  // empty: the run ends here
  }

  json Outputs() const {
    json out = json::object();
    for (const OutputSpec& o : spec.outputs) {
      StatusOr<json> v = ResolvePath(o.from);
      out[o.name] = v.ok() ? *v : json();
    }
    return out;
  }
};

Executor::Executor(const WorkflowSpec& spec, ExecutorOptions options)
    : spec_(spec), options_(std::move(options)) {}

StatusOr<json> Executor::CheckInputs(const json& inputs) const {
  if (!inputs.is_object()) return InvalidArgument("inputs must be a JSON object");
  for (auto it = inputs.begin(); it != inputs.end(); ++it) {
    if (!spec_.FindInput(it.key())) {
      std::string declared;
      for (const InputSpec& in : spec_.inputs) declared += (declared.empty() ? "" : ", ") + in.name;
      return InvalidArgument("unknown input '" + it.key() +
                             "' (declared: " + (declared.empty() ? "none" : declared) + ")");
    }
  }
  json out = json::object();
  for (const InputSpec& in : spec_.inputs) {
    auto it = inputs.find(in.name);
    if (it != inputs.end() && !it->is_null()) {
      if (!HasType(*it, in.type)) {
        return InvalidArgument("input '" + in.name + "' must be " + ValueTypeName(in.type) +
                               ", got " + DumpJson(*it));
      }
      out[in.name] = *it;
    } else if (in.default_value) {
      out[in.name] = *in.default_value;
    } else if (in.required) {
      return InvalidArgument("missing required input '" + in.name + "'");
    } else {
      out[in.name] = nullptr;
    }
  }
  return out;
}

StatusOr<RunResult> Executor::Start(const json& inputs) {
  QS_ASSIGN_OR_RETURN(json checked, CheckInputs(inputs));
  auto run = std::make_unique<Run>(spec_, options_);
  run->id = NewRunId();
  run->dir = options_.runs_dir + "/" + run->id;
  std::error_code ec;
  std::filesystem::create_directories(run->dir, ec);
  if (ec) return Internal("cannot create run folder " + run->dir + ": " + ec.message());
  QS_RETURN_IF_ERROR(run->lock.Acquire(run->dir + "/lock"));

  RunRecord record;
  record.id = run->id;
  record.workflow_file = spec_.file;
  StatusOr<std::string> text = ReadFile(spec_.file);
  if (text.ok()) record.workflow_hash = ContentHash(*text);
  record.workflow_name = spec_.name;
  record.inputs = checked;
  QS_ASSIGN_OR_RETURN(run->store, RunStore::Create(run->dir + "/run.sqlite", record));
  QS_RETURN_IF_ERROR(run->trace.Open(run->dir + "/trace.jsonl", run->id));
  run->inputs = checked;
  run->state = json::object();
  for (const StateKeySpec& key : spec_.state) run->state[key.key] = key.initial;
  run->trace.Emit("run.start", {{"qs.workflow.name", spec_.name},
                                {"qs.workflow.file", spec_.file},
                                {"qs.workflow.hash", record.workflow_hash}});
  return Continue(*run, 0, spec_.start, std::nullopt);
}

StatusOr<RunResult> Executor::Resume(const std::string& run_id,
                                     const std::optional<json>& human_input) {
  if (!IsValidRunId(run_id)) return InvalidArgument("malformed run id '" + run_id + "'");
  auto run = std::make_unique<Run>(spec_, options_);
  run->id = run_id;
  run->dir = options_.runs_dir + "/" + run_id;
  if (!std::filesystem::exists(run->dir + "/run.sqlite")) {
    return NotFound("no run '" + run_id + "' under " + options_.runs_dir);
  }
  QS_RETURN_IF_ERROR(run->lock.Acquire(run->dir + "/lock"));
  QS_ASSIGN_OR_RETURN(run->store, RunStore::Open(run->dir + "/run.sqlite"));
  QS_ASSIGN_OR_RETURN(RunRecord record, run->store->LoadRun());
  if (!record.workflow_hash.empty()) {
    StatusOr<std::string> text = ReadFile(spec_.file);
    if (!text.ok() || ContentHash(*text) != record.workflow_hash) {
      return FailedPrecondition("run '" + run_id + "' was started from a different version of " +
                                record.workflow_file + "; resume it with the original file");
    }
  }
  if (record.status == RunStatus::kFinished) {
    return FailedPrecondition("run '" + run_id + "' has already finished");
  }
  QS_ASSIGN_OR_RETURN(std::optional<PendingInput> pending, run->store->Pending());
  if (pending && !human_input) {
    return FailedPrecondition("run '" + run_id + "' is waiting at human node '" + pending->node_id +
                              "'; resume it with an input");
  }
  if (!pending && human_input) {
    return FailedPrecondition("run '" + run_id + "' is not waiting for a human input");
  }
  QS_RETURN_IF_ERROR(run->trace.Open(run->dir + "/trace.jsonl", run_id));
  run->inputs = record.inputs;
  int steps = 0;
  std::string next = spec_.start;
  QS_ASSIGN_OR_RETURN(std::optional<Checkpoint> last, run->store->LastNodeCheckpoint());
  if (last) {
    run->state = last->state;
    steps = last->step;
    next = last->next_node;
  } else {
    run->state = json::object();
    for (const StateKeySpec& key : spec_.state) run->state[key.key] = key.initial;
  }
  if (pending && pending->node_id != next) {
    return Internal("run '" + run_id + "': the pending input of node '" + pending->node_id +
                    "' does not follow the last checkpoint");
  }
  QS_ASSIGN_OR_RETURN(std::vector<Checkpoint> partial, run->store->PartialResultsAfter(steps));
  run->replay_step = steps + 1;
  for (const Checkpoint& c : partial) run->replay[c.key] = c.result;
  run->trace.Emit("run.resume", {{"qs.step", steps},
                                 {"qs.next_node", next},
                                 {"qs.replayable_results", partial.size()},
                                 {"qs.human_input", human_input.has_value()}});
  return Continue(*run, steps, next, human_input);
}

StatusOr<RunResult> Executor::Continue(Run& run, int steps, const std::string& start_node,
                                       const std::optional<json>& human_input) {
  RunResult result;
  result.run_id = run.id;
  result.run_dir = run.dir;
  auto fail = [&](const std::string& error) -> StatusOr<RunResult> {
    QS_RETURN_IF_ERROR(run.store->Finish(RunStatus::kFailed, error, json()));
    run.trace.Emit("run.end", {{"qs.status", "failed"}, {"qs.error", error}, {"qs.steps", steps}});
    result.status = RunStatus::kFailed;
    result.error = error;
    result.state = run.state;
    result.steps = steps;
    return result;
  };

  std::string current = start_node;
  bool first = true;
  while (!current.empty()) {
    if (steps >= spec_.max_steps) {
      return fail("stopped after max_steps (" + std::to_string(spec_.max_steps) +
                  ") node runs before node '" + current +
                  "' (raise max_steps, or make the cycle's router end it sooner)");
    }
    const NodeSpec* node = spec_.FindNode(current);
    if (!node) return fail("no node '" + current + "' in the workflow");
    const int step = steps + 1;
    auto started = std::chrono::steady_clock::now();
    run.trace.Emit(
        "node.start",
        {{"qs.step", step}, {"qs.node.id", node->id}, {"qs.node.type", NodeTypeName(node->type)}});

    json node_result;
    std::string next;
    bool answers_pending = false;
    if (node->type == NodeType::kRouter) {
      StatusOr<std::string> to = run.ChooseRoute(std::get<RouterNode>(node->config));
      if (!to.ok()) return fail("router '" + node->id + "': " + to.status().message());
      next = *to;
      node_result = next.empty() ? json() : json(next);
    } else if (node->type == NodeType::kHuman) {
      if (!(first && human_input)) {
        StatusOr<std::string> prompt =
            run.RenderText(std::get<HumanNode>(node->config).prompt, Scope{});
        if (!prompt.ok())
          return fail("human node '" + node->id + "': " + prompt.status().message());
        PendingInput pending;
        pending.step = step;
        pending.node_id = node->id;
        pending.prompt = *prompt;
        QS_RETURN_IF_ERROR(run.store->Pause(pending));
        run.trace.Emit("run.pause", {{"qs.step", step}, {"qs.node.id", node->id}});
        result.status = RunStatus::kPaused;
        result.paused_node = node->id;
        result.prompt = *prompt;
        result.state = run.state;
        result.steps = steps;
        return result;
      }
      node_result = *human_input;
      answers_pending = true;
    } else {
      StatusOr<json> r = run.RunNode(*node, step, Scope{});
      if (!r.ok()) {
        run.trace.Emit("node.end", {{"qs.step", step},
                                    {"qs.node.id", node->id},
                                    {"qs.status", "error"},
                                    {"qs.duration_ms", ElapsedMs(started)}});
        return fail(r.status().message());
      }
      node_result = std::move(*r);
    }
    if (node->type != NodeType::kRouter) {
      if (!node->output.empty()) {
        Status reduced = run.ApplyReducer(node->id, node->output, node_result);
        if (!reduced.ok()) return fail(reduced.message());
      }
      next = spec_.NextNode(node->id);
    }
    Checkpoint c;
    c.step = step;
    c.node_id = node->id;
    c.kind = CheckpointKind::kNode;
    c.state = run.state;
    c.next_node = next;
    c.result = node_result;
    QS_RETURN_IF_ERROR(run.Commit(c, answers_pending));
    run.trace.Emit("node.end", {{"qs.step", step},
                                {"qs.node.id", node->id},
                                {"qs.status", "ok"},
                                {"qs.next_node", next},
                                {"qs.duration_ms", ElapsedMs(started)}});
    steps = step;
    current = next;
    first = false;
  }

  json outputs = run.Outputs();
  QS_RETURN_IF_ERROR(run.store->Finish(RunStatus::kFinished, "", outputs));
  run.trace.Emit("run.end", {{"qs.status", "finished"}, {"qs.steps", steps}});
  result.status = RunStatus::kFinished;
  result.outputs = outputs;
  result.state = run.state;
  result.steps = steps;
  return result;
}

}  // namespace qs::workflows
