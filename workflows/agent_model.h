// The model behind agent and llm nodes, as the executor sees it: given the conversation so
// far, the tools the agent may call and an optional schema of the final answer, it returns
// either tool calls or a final answer. The executor owns the loop (rounds, tool runs,
// checkpoints, traces); an AgentModel only generates one turn.
//
// The diffusion-model implementation lives above model/ (it turns the request into a
// prompt, builds the JSON-Schema constraint over {tool calls | answer} and denoises); this
// header stays torch-free so that the executor and its tests build without LibTorch.
//
// Thread safety: the executor calls Generate from one thread at a time (it holds a lock
// around every call), so implementations need not be thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/tool_spec.h"
#include "workflows/workflow_spec.h"

namespace qs::workflows {

// One tool call the model asked for.
struct AgentToolCall {
  std::string id;  // empty: the executor assigns "call_<round>_<index>"
  std::string tool;
  nlohmann::json arguments = nlohmann::json::object();
};

// One conversation message, in the OpenAI chat shape.
struct ChatMessage {
  std::string role;     // "system", "user", "assistant" or "tool"
  std::string content;  // text; for "tool": the result or {"error": ...} as JSON text
  std::vector<AgentToolCall> tool_calls;  // "assistant" messages that call tools
  std::string tool_call_id;               // "tool" messages: the call answered
  std::string name;                       // "tool" messages: the tool's name
};

struct AgentRequest {
  std::string node_id;  // for the model's own logs
  std::vector<ChatMessage> messages;
  std::vector<tools::ToolSpec> tools;  // empty: the model must answer
  // JSON Schema of the final answer; null: the answer is a string.
  nlohmann::json answer_schema;
  const ModelSpec* model = nullptr;  // the workflow's sampler settings
  // The agent node's bound arguments, rendered: {tool: {parameter: value}}. `tools` holds
  // those tools without the bound parameters; the executor adds the values to the calls.
  nlohmann::json bound_arguments = nlohmann::json::object();
};

// Filled in by the model implementation for the trace; zeros when unknown.
struct GenerationStats {
  std::string model_name;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int denoising_steps = 0;
  int64_t model_calls = 0;
  int64_t forced_tokens = 0;  // committed by the grammar without a model call
  // ModelSpec::draft: tokens of the unconstrained draft kept (its grammar-valid prefix; all
  // of it when the draft was a complete valid turn); -1 when no draft was made.
  int64_t draft_kept_tokens = -1;
  double constraint_ms = 0;  // time in the constraint (masks, forcing)
  double latency_ms = 0;
};

// Exactly one of tool_calls (non-empty) and answer is set.
struct AgentResponse {
  std::vector<AgentToolCall> tool_calls;
  std::optional<nlohmann::json> answer;
  GenerationStats stats;
};

class AgentModel {
 public:
  virtual ~AgentModel() = default;
  // A failed Status (the model could not run) fails the node; the executor does not retry.
  virtual StatusOr<AgentResponse> Generate(const AgentRequest& request) = 0;
};

// A tool's parameter schema as the model sees it: the parameters named in `bound` (its
// keys) taken out of properties and required.
nlohmann::json WithoutParameters(nlohmann::json parameters, const nlohmann::json& bound);

// The calls as they run: each call of a tool in `bound_arguments` gets its bound values
// (over any value of the same name the model wrote).
std::vector<AgentToolCall> WithBoundArguments(const nlohmann::json& bound_arguments,
                                              std::vector<AgentToolCall> calls);

// JSON forms used by checkpoints (a replayed round must see the same response).
nlohmann::json AgentResponseToJson(const AgentResponse& response);
StatusOr<AgentResponse> AgentResponseFromJson(const nlohmann::json& value);

}  // namespace qs::workflows
