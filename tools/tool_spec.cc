#include "tools/tool_spec.h"

#include <set>

namespace qs::tools {

namespace {
// Tool names end up in prompts and in the constrained grammar: keep them identifiers,
// as the OpenAI format does (a-z, A-Z, 0-9, _ and -, at most 64 characters).
bool IsValidToolName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

StatusOr<ToolSpec> ParseToolSpec(const nlohmann::json& value, const std::string& where) {
  if (!value.is_object()) return InvalidArgument(where + ": a tool must be a JSON object");
  const nlohmann::json* fn = &value;
  if (value.contains("type")) {
    if (value["type"] != "function") {
      return InvalidArgument(where + ": \"type\" must be \"function\", got " +
                             value["type"].dump());
    }
    if (!value.contains("function") || !value["function"].is_object()) {
      return InvalidArgument(where +
                             ": a {\"type\": \"function\"} tool needs a \"function\" object");
    }
    fn = &value["function"];
  }
  ToolSpec spec;
  if (!fn->contains("name") || !(*fn)["name"].is_string()) {
    return InvalidArgument(where + ": missing string field \"name\"");
  }
  spec.name = (*fn)["name"].get<std::string>();
  if (!IsValidToolName(spec.name)) {
    return InvalidArgument(where + ": tool name \"" + spec.name +
                           "\" must be 1-64 characters of a-z, A-Z, 0-9, _ or -");
  }
  if (fn->contains("description")) {
    if (!(*fn)["description"].is_string()) {
      return InvalidArgument(where + ": \"description\" of tool " + spec.name +
                             " must be a string");
    }
    spec.description = (*fn)["description"].get<std::string>();
  }
  if (fn->contains("parameters")) {
    const nlohmann::json& params = (*fn)["parameters"];
    if (!params.is_object()) {
      return InvalidArgument(where + ": \"parameters\" of tool " + spec.name +
                             " must be a JSON Schema object");
    }
    if (params.contains("type") && params["type"] != "object") {
      return InvalidArgument(where + ": \"parameters\" of tool " + spec.name +
                             " must describe an object (\"type\": \"object\"), got " +
                             params["type"].dump());
    }
    spec.parameters = params;
  } else {
    spec.parameters = nlohmann::json{{"type", "object"}, {"properties", nlohmann::json::object()}};
  }
  return spec;
}

StatusOr<std::vector<ToolSpec>> ParseToolList(const std::string& json_text,
                                              const std::string& source_name) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    return InvalidArgument(source_name + ": invalid JSON at byte " + std::to_string(e.byte) + ": " +
                           e.what());
  }
  if (!doc.is_array()) return InvalidArgument(source_name + ": expected a JSON array of tools");
  std::vector<ToolSpec> tools;
  std::set<std::string> names;
  for (size_t i = 0; i < doc.size(); ++i) {
    QS_ASSIGN_OR_RETURN(ToolSpec spec,
                        ParseToolSpec(doc[i], source_name + ": [" + std::to_string(i) + "]"));
    if (!names.insert(spec.name).second) {
      return InvalidArgument(source_name + ": [" + std::to_string(i) + "]: duplicate tool name \"" +
                             spec.name + "\"");
    }
    tools.push_back(std::move(spec));
  }
  return tools;
}

}  // namespace qs::tools
