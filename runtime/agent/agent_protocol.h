// The tool-call protocol between the agent loop and a diffusion model: what the prompt says,
// which JSON a turn may be (its JSON Schema, the constraint the model denoises under), how a
// turn's text reads back, and how earlier turns are written into the next prompt. Torch-free.
//
// A turn is exactly one of (compact JSON, members in this order):
//   {"tool":"get_order","arguments":{"order_id":"A1001"}}          one tool call
//   [{"tool":"a","arguments":{..}},{"tool":"b","arguments":{..}}]  2..kMaxParallelCalls calls
//   {"answer":...}                                                 the final answer
// "arguments" must match the tool's parameter schema and "answer" the answer schema (a
// string when there is none). An assistant turn in the history is written exactly as the
// grammar lets the model write it (declared member order, compact), so a model trained on
// rendered histories sees the same text it must produce.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/tokenizer/chat_format.h"
#include "tools/tool_spec.h"
#include "workflows/agent_model.h"

namespace qs::agent {

// Most tool calls one turn may carry.
constexpr int kMaxParallelCalls = 4;

// How much the system message says.
//   kFull     the node's system text, every tool (name, description, parameter signature)
//             and the reply format: for any instruction-following model.
//   kCompact  "Tools: a, b, c." only (with no tools: as kFull). For a small
//             model trained on one set of workflows (the embedded model): it has learned
//             their instructions and tools, and a ~15-token system message instead of ~200
//             makes its training and every turn several times cheaper. The constraint
//             enforces the tools' schemas either way.
// A checkpoint picks kCompact with "quicksilver_agent_prompt": "compact" in its
// tokenizer_config.json (`quicksilver train --agent-prompt compact` writes it).
enum class PromptStyle { kFull, kCompact };
// "full" or "compact"; anything else is InvalidArgument listing both.
StatusOr<PromptStyle> ParsePromptStyle(const std::string& name);

// The system message in `style` (above). kFull with no tools: the answer format only.
std::string SystemPrompt(const std::string& node_system, const std::vector<tools::ToolSpec>& tools,
                         const nlohmann::json& answer_schema,
                         PromptStyle style = PromptStyle::kFull);

// The JSON Schema (draft 2020-12) of one turn, ordered: "tool" is declared before
// "arguments". Each tool's parameter schema is moved under
// "$defs" with its local "$ref"s rewritten; a schema with "$id" (its refs could not be
// moved safely) is Unsupported, naming the tool.
StatusOr<nlohmann::ordered_json> TurnSchema(const std::vector<tools::ToolSpec>& tools,
                                            const nlohmann::json& answer_schema);

// `value` as compact JSON with object members in the schema's declared "properties" order
// (others after them, sorted), as the generating grammar writes them.
std::string DumpInSchemaOrder(const nlohmann::json& value, const nlohmann::json& schema);

// The text of a turn that calls `calls` (one: an object; several: an array).
std::string ToolCallsText(const std::vector<workflows::AgentToolCall>& calls,
                          const std::vector<tools::ToolSpec>& tools);
// The text of a final-answer turn.
std::string AnswerText(const nlohmann::json& answer, const nlohmann::json& answer_schema);

// Reads a generated turn back. Malformed text (not one of the three shapes) is
// InvalidArgument quoting the text.
StatusOr<workflows::AgentResponse> ParseTurn(const std::string& text);

// The request's conversation for the model's chat format: the system prompt first (the
// request's own system message folded into it), assistant turns as their turn text, tool
// results as "tool" messages.
std::vector<model::ChatMessage> ChatMessages(const workflows::AgentRequest& request,
                                             PromptStyle style = PromptStyle::kFull);

}  // namespace qs::agent
