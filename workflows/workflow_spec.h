// The workflow file (docs/WORKFLOWS.md): a YAML agent graph parsed and validated into an
// immutable WorkflowSpec. The spec is passive data; the executor (separate) runs it.
//
// Validation collects every problem it finds, not just the first, each as a Diagnostic
// with the file:line:column of the offending YAML node and, where one helps, a hint
// ("did you mean 'prompt'?"). A spec is only built when there are no diagnostics.
//
//   WorkflowValidation v = ValidateWorkflowFile("examples/triage.yaml");
//   for (const Diagnostic& d : v.diagnostics) std::cerr << d.ToString() << "\n";
//   if (v.spec) Run(*v.spec);
//
// Thread safety: a WorkflowSpec is immutable once built and may be read from any number of
// threads. The parsing functions are reentrant (no shared state).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"
#include "tools/http_tool.h"
#include "tools/tool_spec.h"

namespace qs::workflows {

// One problem in a workflow file. line and column are 1-based; 0 when unknown (e.g. the
// file cannot be read).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string hint;  // empty when there is none

  // "FILE:LINE:COLUMN: error: MESSAGE (hint: HINT)"; the hint part only when there is one,
  // "FILE: error: MESSAGE" without a position.
  std::string ToString() const;
  // {"file", "line", "column", "message", "hint"}.
  nlohmann::json ToJson() const;
};

// Where a spec element was written (1-based), for the executor's runtime messages.
struct SourcePos {
  int line = 0;
  int column = 0;
};

enum class ValueType { kString, kNumber, kInteger, kBoolean, kObject, kArray };
const char* ValueTypeName(ValueType type);  // "string", "number", ...

struct InputSpec {
  std::string name;
  ValueType type = ValueType::kString;
  std::string description;
  std::optional<nlohmann::json> default_value;
  bool required = true;  // false when a default is given, unless the file says otherwise
};

struct OutputSpec {
  std::string name;
  std::string from;  // "state.key(.more)*" or "inputs.name(.more)*"
  std::string description;
};

// The model and its sampler settings. Paths are as written; resolved_path is relative to
// the process (the YAML file's folder joined in front), "builtin" stays "builtin".
struct ModelSpec {
  std::string path = "builtin";
  std::string resolved_path = "builtin";
  int gen_length = 128;             // canvas tokens per generation
  int steps = 64;                   // denoising steps per generation
  int block_length = 32;            // semi-autoregressive block size
  std::optional<double> threshold;  // confidence threshold (parallel decoding); none: fixed steps
  double temperature = 0;
  int64_t seed = 0;
  int max_tokens = 4096;  // prompt + canvas tokens per generation, at most
  // Each turn is first denoised without the constraint; the grammar keeps the draft's valid
  // prefix and the constraint writes the rest (runtime/agent/diffusion_agent.h).
  bool draft = true;
};

// The built-in retrieve tool over a folder of documents (tools/retrieval.h).
struct RetrieveToolConfig {
  tools::ToolSpec spec;          // RetrieveToolSpec(name), description overridable
  std::string folder;            // as written
  std::string folder_path;       // resolved against the YAML file's folder
  int k = 3;                     // default number of results (the model may pass its own k)
  std::string index;             // SQLite path as written; empty: the executor picks one
  std::string index_path;        // resolved like folder_path; empty when index is
  bool sentence_chunks = false;  // chunks: sentences (one passage per sentence)
  std::string questions;         // example questions per passage (tools::PassageQuestions)
  std::string questions_path;    // resolved like folder_path; empty when questions is
  double min_score = 0;          // results scoring below are left out
};

enum class ToolKind { kHttp, kRetrieve };

struct WorkflowTool {
  std::string name;
  ToolKind kind = ToolKind::kHttp;
  tools::HttpToolConfig http;    // kind == kHttp (http.spec is the tool's spec)
  RetrieveToolConfig retrieve;   // kind == kRetrieve
  nlohmann::json output_schema;  // null when absent
  SourcePos pos;
  const tools::ToolSpec& spec() const {
    return kind == ToolKind::kHttp ? http.spec : retrieve.spec;
  }
};

enum class Reducer { kOverwrite, kAppend, kMerge };
const char* ReducerName(Reducer reducer);

struct StateKeySpec {
  std::string key;
  Reducer reducer = Reducer::kOverwrite;
  nlohmann::json initial;  // null for overwrite, [] for append, {} for merge unless given
  bool declared = true;    // false: not in `state`, only written by a node's output
};

enum class NodeType { kAgent, kLlm, kTool, kRouter, kRetrieve, kMap, kHuman };
const char* NodeTypeName(NodeType type);  // "agent", "llm", ...

struct AgentNode {
  std::string prompt;              // template
  std::string system;              // template; empty when absent
  std::vector<std::string> tools;  // tool names
  // Arguments the executor sets instead of the model: {tool: {parameter: value}}, strings
  // are templates. The model sees those tools without the bound parameters, and a tool is
  // not offered in a turn where a bound value renders empty (docs/WORKFLOWS.md, "Bound
  // arguments").
  nlohmann::json bind = nlohmann::json::object();
  int max_rounds = 8;
  nlohmann::json answer_schema;  // null when absent
};

struct LlmNode {
  std::string prompt;
  std::string system;
  nlohmann::json schema;  // the output's JSON Schema; null when absent (the result is text)
};

struct ToolNode {
  std::string tool;
  nlohmann::json arguments = nlohmann::json::object();  // values; strings are templates
};

struct Condition {
  enum class Op { kEquals, kNotEquals, kIn, kExists, kGreaterThan, kLessThan };
  std::string path;  // "state.x" / "inputs.y"
  Op op = Op::kEquals;
  nlohmann::json value;  // the operand (a list for kIn, a boolean for kExists)
};

struct Route {
  Condition when;
  std::string to;
};

struct RouterNode {
  std::vector<Route> routes;  // the first route whose condition holds wins
  std::string default_to;     // empty: no route matched ends the run
};

struct RetrieveNode {
  std::string tool;         // a retrieve tool, or empty when folder is set
  std::string folder;       // as written; empty when tool is set
  std::string folder_path;  // resolved against the YAML file's folder
  std::string query;        // template
  int k = 3;
};

struct MapNode {
  std::string over;      // "state.list" / "inputs.list"
  std::string node;      // the body node, run once per item ({{item}}, {{index}})
  int max_parallel = 1;  // items in flight at once
};

struct HumanNode {
  std::string prompt;  // template, shown to the person
};

using NodeConfig =
    std::variant<AgentNode, LlmNode, ToolNode, RouterNode, RetrieveNode, MapNode, HumanNode>;

struct NodeSpec {
  std::string id;
  NodeType type = NodeType::kAgent;
  std::string description;
  // The state key the result goes to (through its reducer). Empty for routers, and allowed
  // empty for tool nodes and map bodies (a body's result goes to the map's output).
  std::string output;
  NodeConfig config;  // the alternative that matches type
  SourcePos pos;
};

struct Edge {
  std::string from;
  std::string to;
};

struct WorkflowSpec {
  std::string file;      // as given
  std::string base_dir;  // the YAML file's folder (relative paths resolve against it)
  std::string name;
  std::string description;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  ModelSpec model;
  tools::HostAllowList allow_hosts;  // loopback always allowed
  std::vector<WorkflowTool> tools;
  std::vector<StateKeySpec> state;  // declared keys first, then keys only nodes write
  std::vector<NodeSpec> nodes;
  std::vector<Edge> edges;
  std::string start;
  int max_steps = 50;

  const NodeSpec* FindNode(const std::string& id) const;
  const WorkflowTool* FindTool(const std::string& name) const;
  const StateKeySpec* FindStateKey(const std::string& key) const;
  const InputSpec* FindInput(const std::string& name) const;
  // The node an edge leads to from `id`, or empty when `id` ends the run (routers choose
  // through their routes instead).
  std::string NextNode(const std::string& id) const;
};

// Full JSON Schema compilation lives elsewhere (runtime/json_schema); the validator only
// checks schemas structurally. A caller that has a compiler passes it here: it is called
// for every schema in the file that passed the structural checks and returns an error
// message, or an empty string when the schema is usable.
using SchemaChecker = std::function<std::string(const nlohmann::json& schema)>;

struct WorkflowOptions {
  // Folder that relative paths resolve against; empty: the folder of the file path.
  std::string base_dir;
  SchemaChecker check_schema;  // optional
};

struct WorkflowValidation {
  std::optional<WorkflowSpec> spec;     // set exactly when diagnostics is empty
  std::vector<Diagnostic> diagnostics;  // sorted by line, then column
};

// Parses and validates YAML text; `path` names the file in diagnostics and, unless
// options.base_dir is set, gives the folder relative paths resolve against.
WorkflowValidation ValidateWorkflow(const std::string& yaml_text, const std::string& path,
                                    const WorkflowOptions& options = {});
// Reads the file first; an unreadable file is one diagnostic without a position.
WorkflowValidation ValidateWorkflowFile(const std::string& path,
                                        const WorkflowOptions& options = {});

// StatusOr forms: InvalidArgument whose message lists every diagnostic, one per line.
StatusOr<WorkflowSpec> ParseWorkflow(const std::string& yaml_text, const std::string& path,
                                     const WorkflowOptions& options = {});
StatusOr<WorkflowSpec> LoadWorkflowFile(const std::string& path,
                                        const WorkflowOptions& options = {});

// Points every HTTP tool at another server: the scheme://host:port of each URL is replaced
// by base_url (e.g. "http://127.0.0.1:40123"), for tests, evaluation and corpus generation
// against a tool server on another port. InvalidArgument when base_url is not of that form.
Status RebaseHttpTools(WorkflowSpec* spec, const std::string& base_url);

// The schema keyword of values copied from the conversation ("words" or "sentences"):
// checked here, resolved per turn by runtime/agent/context_values.h.
inline constexpr char kFromContextKeyword[] = "x-from-context";

// A structural problem in a JSON Schema: where (a JSON Pointer into the schema, "" for the
// root) and what.
struct SchemaProblem {
  std::string pointer;
  std::string message;
};

// Checks a JSON Schema's structure, not its full meaning: an object (or a boolean below the
// top), "type" a known type name or a list of them, "properties" an object of schemas,
// "required" an array of strings, subschema keywords holding schemas, numeric limits
// holding numbers, "x-from-context" (runtime/agent/context_values.h) "words" or
// "sentences". Unknown keywords are allowed (JSON Schema ignores them). Returns every
// problem; empty when the schema passes.
std::vector<SchemaProblem> CheckSchemaStructure(const nlohmann::json& schema);

}  // namespace qs::workflows
