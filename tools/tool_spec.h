// A tool as the model sees it: name, description and a JSON Schema for its arguments,
// read from the OpenAI function format:
//   {"type": "function", "function": {"name": ..., "description": ..., "parameters": {...}}}
// or the bare inner object {"name": ..., "description": ..., "parameters": {...}}.
//
// Thread safety: immutable values once parsed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace qs::tools {

struct ToolSpec {
  std::string name;
  std::string description;
  nlohmann::json parameters;  // a JSON Schema object (an empty object schema when omitted)
};

// Parses one tool. `where` names the source for messages (e.g. "tools.json: [2]").
StatusOr<ToolSpec> ParseToolSpec(const nlohmann::json& value, const std::string& where);

// Parses a JSON array of tools from text; names must be unique.
StatusOr<std::vector<ToolSpec>> ParseToolList(const std::string& json_text,
                                              const std::string& source_name);

}  // namespace qs::tools
