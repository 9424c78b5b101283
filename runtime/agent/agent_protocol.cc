#include "runtime/agent/agent_protocol.h"

#include <initializer_list>
#include <set>
#include <tuple>

namespace qs::agent {

using nlohmann::json;

namespace {

json StringSchemaIfNull(const json& answer_schema) {
  return answer_schema.is_null() ? json{{"type", "string"}} : answer_schema;
}

bool ContainsId(const json& schema) {
  if (schema.is_object()) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() == "$id" && it.value().is_string()) return true;
      if (ContainsId(it.value())) return true;
    }
  } else if (schema.is_array()) {
    for (const json& item : schema) {
      if (ContainsId(item)) return true;
    }
  }
  return false;
}

// Rewrites local "$ref"s ("#", "#/...") of a schema that moves to `prefix` ("#/$defs/x").
json MoveRefs(const json& schema, const std::string& prefix) {
  if (schema.is_array()) {
    json out = json::array();
    for (const json& item : schema) out.push_back(MoveRefs(item, prefix));
    return out;
  }
  if (!schema.is_object()) return schema;
  json out = json::object();
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const bool is_ref = it.key() == "$ref" && it.value().is_string();
    const std::string ref = is_ref ? it.value().get<std::string>() : "";
    if (is_ref && !ref.empty() && ref[0] == '#') {
      out[it.key()] = prefix + ref.substr(1);
    } else if (it.key() == "$schema") {
      continue;  // the turn schema has its own
    } else if (it.key() == "const" || it.key() == "enum" || it.key() == "default" ||
               it.key() == "examples") {
      out[it.key()] = it.value();  // values, not schemas
    } else {
      out[it.key()] = MoveRefs(it.value(), prefix);
    }
  }
  return out;
}

std::string CompactSchema(const json& schema) { return schema.dump(); }

bool OnlyKeys(const json& object, std::initializer_list<const char*> allowed) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    bool ok = false;
    for (const char* key : allowed) ok = ok || it.key() == key;
    if (!ok) return false;
  }
  return true;
}

std::string NumberText(const json& value) { return value.dump(); }

// One parameter of a flat tool schema as text: `name?: type constraints (description)`, or
// "" when the property is not a plain scalar (the caller then writes the schema as JSON).
std::string ParameterText(const std::string& name, const json& schema, bool required) {
  if (!schema.is_object() || !OnlyKeys(schema, {"type", "description", "enum", "pattern", "format",
                                                "minimum", "maximum", "minLength", "maxLength"})) {
    return "";
  }
  std::string type;
  if (schema.contains("enum")) {
    if (!schema["enum"].is_array() || schema["enum"].empty()) return "";
    for (const json& v : schema["enum"]) type += (type.empty() ? "" : "|") + v.dump();
  } else {
    const json t = schema.value("type", json());
    if (!t.is_string()) return "";
    type = t.get<std::string>();
    if (type != "string" && type != "integer" && type != "number" && type != "boolean") {
      return "";
    }
  }
  std::string out = name + (required ? ": " : "?: ") + type;
  if (schema.contains("pattern")) {
    if (!schema["pattern"].is_string()) return "";
    out += " matching " + schema["pattern"].get<std::string>();
  }
  if (schema.contains("format")) {
    if (!schema["format"].is_string()) return "";
    out += " (" + schema["format"].get<std::string>() + ")";
  }
  for (const auto& [low, high, what] :
       {std::tuple{"minimum", "maximum", ""}, std::tuple{"minLength", "maxLength", "length "}}) {
    const bool has_low = schema.contains(low), has_high = schema.contains(high);
    if ((has_low && !schema[low].is_number()) || (has_high && !schema[high].is_number())) {
      return "";
    }
    if (has_low && has_high) {
      out += std::string(" ") + what + NumberText(schema[low]) + ".." + NumberText(schema[high]);
    } else if (has_low) {
      out += std::string(" ") + what + ">= " + NumberText(schema[low]);
    } else if (has_high) {
      out += std::string(" ") + what + "<= " + NumberText(schema[high]);
    }
  }
  if (schema.contains("description")) {
    if (!schema["description"].is_string()) return "";
    out += " - " + schema["description"].get<std::string>();
  }
  return out;
}

// A tool's parameters in the system prompt. A flat object schema (closed, scalar properties)
// is written as a signature, `(order_id: string matching ^[A-Z][0-9]{4}$; limit?: integer
// 1..50)`, a third of its JSON's tokens; anything else as compact JSON. The constraint
// enforces the schema either way; the listing only has to tell the model what to write.
std::string ParametersText(const json& schema) {
  if (schema.is_null()) return "()";
  const bool flat = schema.is_object() &&
                    OnlyKeys(schema, {"type", "properties", "required", "additionalProperties"}) &&
                    schema.value("type", json()) == "object" &&
                    schema.value("additionalProperties", json()) == false &&
                    schema.contains("properties") && schema["properties"].is_object();
  if (flat) {
    std::set<std::string> required;
    if (schema.contains("required")) {
      if (!schema["required"].is_array()) return " Parameters: " + CompactSchema(schema);
      for (const json& r : schema["required"]) {
        if (r.is_string()) required.insert(r.get<std::string>());
      }
    }
    std::string out = "(";
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
      const std::string text = ParameterText(it.key(), it.value(), required.count(it.key()) > 0);
      if (text.empty()) return " Parameters: " + CompactSchema(schema);
      if (out.size() > 1) out += "; ";
      out += text;
    }
    return out + ")";
  }
  return " Parameters: " + CompactSchema(schema);
}

// The schema a value is written against when the writer follows "properties" / "items".
const json* Sub(const json& schema, const char* keyword, const std::string& key) {
  if (!schema.is_object()) return nullptr;
  auto it = schema.find(keyword);
  if (it == schema.end() || !it->is_object()) return nullptr;
  auto sub = it->find(key);
  return sub == it->end() ? nullptr : &*sub;
}

void DumpOrdered(const json& value, const json* schema, std::string* out) {
  static const json kNone;
  const json& s = schema ? *schema : kNone;
  if (value.is_object()) {
    std::vector<std::string> order;
    std::set<std::string> seen;
    if (s.is_object() && s.contains("properties") && s["properties"].is_object()) {
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
        // Tool and answer schemas reach us as nlohmann::json (sorted keys), and the turn
        // grammar is compiled from them, so its declared order is this order too.
        if (value.contains(it.key())) {
          order.push_back(it.key());
          seen.insert(it.key());
        }
      }
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!seen.count(it.key())) order.push_back(it.key());
    }
    out->push_back('{');
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0) out->push_back(',');
      *out += json(order[i]).dump();
      out->push_back(':');
      DumpOrdered(value[order[i]], Sub(s, "properties", order[i]), out);
    }
    out->push_back('}');
  } else if (value.is_array()) {
    const json* items =
        s.is_object() && s.contains("items") && s["items"].is_object() ? &s["items"] : nullptr;
    out->push_back('[');
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) out->push_back(',');
      DumpOrdered(value[i], items, out);
    }
    out->push_back(']');
  } else {
    *out += value.dump();
  }
}

const tools::ToolSpec* FindTool(const std::vector<tools::ToolSpec>& tools,
                                const std::string& name) {
  for (const tools::ToolSpec& t : tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string CallText(const workflows::AgentToolCall& call,
                     const std::vector<tools::ToolSpec>& tools) {
  const tools::ToolSpec* tool = FindTool(tools, call.tool);
  return "{\"tool\":" + json(call.tool).dump() +
         ",\"arguments\":" + DumpInSchemaOrder(call.arguments, tool ? tool->parameters : json()) +
         "}";
}

StatusOr<workflows::AgentToolCall> ParseCall(const json& value, const std::string& text) {
  if (!value.is_object() || !value.contains("tool") || !value["tool"].is_string() ||
      (value.contains("arguments") && !value["arguments"].is_object())) {
    return InvalidArgument("a tool call must be {\"tool\": NAME, \"arguments\": {...}}, got " +
                           text);
  }
  workflows::AgentToolCall call;
  call.tool = value["tool"].get<std::string>();
  if (value.contains("arguments")) call.arguments = value["arguments"];
  return call;
}

}  // namespace

StatusOr<PromptStyle> ParsePromptStyle(const std::string& name) {
  if (name == "full") return PromptStyle::kFull;
  if (name == "compact") return PromptStyle::kCompact;
  return InvalidArgument("unknown agent prompt style \"" + name + "\" (use full or compact)");
}

std::string SystemPrompt(const std::string& node_system, const std::vector<tools::ToolSpec>& tools,
                         const json& answer_schema, PromptStyle style) {
  if (style == PromptStyle::kCompact && !tools.empty()) {
    std::string out = "Tools: ";
    for (size_t i = 0; i < tools.size(); ++i) out += (i > 0 ? ", " : "") + tools[i].name;
    return out + ".";
  }
  std::string out = node_system;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (!out.empty()) out += "\n\n";
  if (!tools.empty()) {
    out += "Tools:\n";
    for (const tools::ToolSpec& t : tools) {
      const std::string parameters = ParametersText(t.parameters);
      // "- name(signature): description", or "- name: description Parameters: {json}".
      if (parameters[0] == '(') {
        out +=
            "- " + t.name + parameters + (t.description.empty() ? "" : ": ") + t.description + "\n";
      } else {
        out += "- " + t.name + ": " + t.description + parameters + "\n";
      }
    }
    out +=
        "\nReply with JSON only: {\"tool\": NAME, \"arguments\": {...}}, a list of such "
        "calls to run together, or {\"answer\": ...}.";
  } else {
    out += "Reply with JSON only: {\"answer\": ...}.";
  }
  if (!answer_schema.is_null()) out += " The answer follows " + CompactSchema(answer_schema) + ".";
  return out;
}

StatusOr<nlohmann::ordered_json> TurnSchema(const std::vector<tools::ToolSpec>& tools,
                                            const json& answer_schema) {
  using ojson = nlohmann::ordered_json;
  ojson defs = ojson::object();
  ojson calls = ojson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const tools::ToolSpec& t = tools[i];
    if (ContainsId(t.parameters)) {
      return Unsupported("tool '" + t.name +
                         "': parameter schemas with \"$id\" cannot be embedded in a turn "
                         "schema; remove \"$id\" and use local \"$ref\"s");
    }
    const std::string name = "tool_" + std::to_string(i);
    const json parameters = t.parameters.is_null() ? json{{"type", "object"}} : t.parameters;
    defs[name] = ojson(MoveRefs(parameters, "#/$defs/" + name));
    // "tool" before "arguments": the model picks the tool, then fills its arguments.
    calls.push_back(
        {{"type", "object"},
         {"properties",
          {{"tool", {{"const", t.name}}}, {"arguments", {{"$ref", "#/$defs/" + name}}}}},
         {"required", {"tool", "arguments"}},
         {"additionalProperties", false}});
  }
  const json answer = StringSchemaIfNull(answer_schema);
  if (ContainsId(answer)) {
    return Unsupported("the answer schema has \"$id\"; remove it and use local \"$ref\"s");
  }
  defs["answer"] = ojson(MoveRefs(answer, "#/$defs/answer"));
  ojson any_of = ojson::array();
  for (const ojson& call : calls) any_of.push_back(call);
  if (tools.size() > 0) {
    any_of.push_back({{"type", "array"},
                      {"items", calls.size() == 1 ? calls[0] : ojson{{"anyOf", calls}}},
                      {"minItems", 2},
                      {"maxItems", kMaxParallelCalls}});
  }
  any_of.push_back({{"type", "object"},
                    {"properties", {{"answer", {{"$ref", "#/$defs/answer"}}}}},
                    {"required", {"answer"}},
                    {"additionalProperties", false}});
  return ojson{{"$schema", "https://json-schema.org/draft/2020-12/schema"},
               {"$defs", defs},
               {"anyOf", any_of}};
}

std::string DumpInSchemaOrder(const json& value, const json& schema) {
  std::string out;
  DumpOrdered(value, &schema, &out);
  return out;
}

std::string ToolCallsText(const std::vector<workflows::AgentToolCall>& calls,
                          const std::vector<tools::ToolSpec>& tools) {
  if (calls.size() == 1) return CallText(calls[0], tools);
  std::string out = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i > 0) out += ",";
    out += CallText(calls[i], tools);
  }
  return out + "]";
}

std::string AnswerText(const json& answer, const json& answer_schema) {
  return "{\"answer\":" + DumpInSchemaOrder(answer, StringSchemaIfNull(answer_schema)) + "}";
}

StatusOr<workflows::AgentResponse> ParseTurn(const std::string& text) {
  const json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) return InvalidArgument("the turn is not JSON: " + text);
  workflows::AgentResponse response;
  if (value.is_array()) {
    if (value.empty()) return InvalidArgument("the turn is an empty list of tool calls");
    for (const json& item : value) {
      QS_ASSIGN_OR_RETURN(workflows::AgentToolCall call, ParseCall(item, text));
      response.tool_calls.push_back(std::move(call));
    }
    return response;
  }
  if (value.is_object() && value.contains("answer") && value.size() == 1) {
    response.answer = value["answer"];
    return response;
  }
  QS_ASSIGN_OR_RETURN(workflows::AgentToolCall call, ParseCall(value, text));
  response.tool_calls.push_back(std::move(call));
  return response;
}

std::vector<model::ChatMessage> ChatMessages(const workflows::AgentRequest& request,
                                             PromptStyle style) {
  std::vector<model::ChatMessage> out;
  size_t first = 0;
  std::string node_system;
  if (!request.messages.empty() && request.messages[0].role == "system") {
    node_system = request.messages[0].content;
    first = 1;
  }
  out.push_back({"system", SystemPrompt(node_system, request.tools, request.answer_schema, style)});
  for (size_t i = first; i < request.messages.size(); ++i) {
    const workflows::ChatMessage& m = request.messages[i];
    if (m.role == "assistant" && !m.tool_calls.empty()) {
      out.push_back({"assistant", ToolCallsText(m.tool_calls, request.tools)});
    } else {
      out.push_back({m.role, m.content});
    }
  }
  return out;
}

}  // namespace qs::agent
