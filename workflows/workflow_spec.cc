#include "workflows/workflow_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

#include "base/files.h"
#include "tools/retrieval.h"
#include "workflows/template.h"

namespace qs::workflows {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// Names and small helpers.

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kString:
      return "string";
    case ValueType::kNumber:
      return "number";
    case ValueType::kInteger:
      return "integer";
    case ValueType::kBoolean:
      return "boolean";
    case ValueType::kObject:
      return "object";
    case ValueType::kArray:
      return "array";
  }
  return "?";
}

const char* ReducerName(Reducer reducer) {
  switch (reducer) {
    case Reducer::kOverwrite:
      return "overwrite";
    case Reducer::kAppend:
      return "append";
    case Reducer::kMerge:
      return "merge";
  }
  return "?";
}

const char* NodeTypeName(NodeType type) {
  switch (type) {
    case NodeType::kAgent:
      return "agent";
    case NodeType::kLlm:
      return "llm";
    case NodeType::kTool:
      return "tool";
    case NodeType::kRouter:
      return "router";
    case NodeType::kRetrieve:
      return "retrieve";
    case NodeType::kMap:
      return "map";
    case NodeType::kHuman:
      return "human";
  }
  return "?";
}

std::string Diagnostic::ToString() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": error: " + message;
  if (!hint.empty()) s += " (hint: " + hint + ")";
  return s;
}

json Diagnostic::ToJson() const {
  return json{
      {"file", file}, {"line", line}, {"column", column}, {"message", message}, {"hint", hint}};
}

const NodeSpec* WorkflowSpec::FindNode(const std::string& id) const {
  for (const NodeSpec& n : nodes) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

const WorkflowTool* WorkflowSpec::FindTool(const std::string& tool_name) const {
  for (const WorkflowTool& t : tools) {
    if (t.name == tool_name) return &t;
  }
  return nullptr;
}

const StateKeySpec* WorkflowSpec::FindStateKey(const std::string& key) const {
  for (const StateKeySpec& s : state) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

const InputSpec* WorkflowSpec::FindInput(const std::string& input_name) const {
  for (const InputSpec& i : inputs) {
    if (i.name == input_name) return &i;
  }
  return nullptr;
}

std::string WorkflowSpec::NextNode(const std::string& id) const {
  for (const Edge& e : edges) {
    if (e.from == id) return e.to;
  }
  return "";
}

namespace {

// Damerau-Levenshtein (optimal string alignment): a swapped pair counts as one edit, the
// most common typo in field names.
int EditDistance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

// "did you mean 'x'?" for the closest candidate within a few edits, or for a candidate
// that the name begins (timeout -> timeout_seconds); "" when nothing is close.
std::string DidYouMean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  int best_distance = INT_MAX;
  for (const std::string& c : candidates) {
    const int d = EditDistance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Longer names tolerate more edits; for one or two letters any name is one edit away.
  const size_t n = name.size();
  const int limit = n >= 10 ? 3 : n >= 5 ? 2 : n >= 3 ? 1 : 0;
  if (!best.empty() && best_distance <= limit) return "did you mean '" + best + "'?";
  if (name.size() >= 4) {
    for (const std::string& c : candidates) {
      if (c.size() > name.size() && c.compare(0, name.size(), name) == 0) {
        return "did you mean '" + c + "'?";
      }
    }
  }
  return "";
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// The hint for an unknown name: the closest candidate, or the list of candidates.
std::string SuggestOrList(const std::string& name, const std::vector<std::string>& candidates,
                          const std::string& list_intro) {
  std::string hint = DidYouMean(name, candidates);
  if (hint.empty() && !candidates.empty()) hint = list_intro + JoinNames(candidates);
  return hint;
}

// State keys and input names appear in dotted references: identifiers only.
bool IsIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// Node ids and tool names: 1-64 of a-z, A-Z, 0-9, _ and - (the OpenAI tool name rule).
bool IsName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string PointerEscape(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// YAML values. Plain scalars follow the YAML 1.2 core schema (yes/no/on/off stay strings);
// quoted scalars and !!str are always strings.

enum class Kind { kNull, kBool, kInt, kFloat, kString, kMap, kSeq };

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull:
      return "nothing (null)";
    case Kind::kBool:
      return "a boolean";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kString:
      return "a string";
    case Kind::kMap:
      return "a mapping";
    case Kind::kSeq:
      return "a list";
  }
  return "?";
}

bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

bool LooksLikeInt(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (s.size() > i + 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o')) {
    const bool hex = s[i + 1] == 'x';
    for (size_t j = i + 2; j < s.size(); ++j) {
      const char c = s[j];
      if (!(hex ? std::isxdigit(static_cast<unsigned char>(c)) : (c >= '0' && c <= '7'))) {
        return false;
      }
    }
    return true;
  }
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return false;
  }
  return true;
}

bool LooksLikeFloat(const std::string& s) {
  static const std::set<std::string> kSpecial = {".inf",  ".Inf",  ".INF",  "+.inf",
                                                 "+.Inf", "+.INF", "-.inf", "-.Inf",
                                                 "-.INF", ".nan",  ".NaN",  ".NAN"};
  if (kSpecial.count(s)) return true;
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits) return false;
  if (i == s.size()) return true;
  if (s[i] != 'e' && s[i] != 'E') return false;
  ++i;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

Kind KindOf(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return Kind::kNull;
  if (node.IsMap()) return Kind::kMap;
  if (node.IsSequence()) return Kind::kSeq;
  if (!IsPlain(node)) return Kind::kString;
  const std::string& s = node.Scalar();
  if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty()) return Kind::kNull;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return Kind::kBool;
  }
  if (LooksLikeInt(s)) return Kind::kInt;
  if (LooksLikeFloat(s)) return Kind::kFloat;
  return Kind::kString;
}

json ScalarToJson(const YAML::Node& node, Kind kind) {
  const std::string& s = node.Scalar();
  switch (kind) {
    case Kind::kNull:
      return nullptr;
    case Kind::kBool:
      return s[0] == 't' || s[0] == 'T';
    case Kind::kInt: {
      size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
      int base = 10;
      std::string digits = s.substr(i);
      if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
        base = digits[1] == 'x' ? 16 : 8;
        digits = digits.substr(2);
      }
      errno = 0;
      const long long v = std::strtoll(digits.c_str(), nullptr, base);
      if (errno == ERANGE) return std::strtod(s.c_str(), nullptr);  // too big: keep magnitude
      return s[0] == '-' ? -v : v;
    }
    case Kind::kFloat: {
      if (s.find("inf") != std::string::npos || s.find("Inf") != std::string::npos ||
          s.find("INF") != std::string::npos) {
        // JSON has no infinity; a schema bound of .inf means "no bound" anyway.
        return s[0] == '-' ? -std::numeric_limits<double>::max()
                           : std::numeric_limits<double>::max();
      }
      if (s.find("nan") != std::string::npos || s.find("NaN") != std::string::npos ||
          s.find("NAN") != std::string::npos) {
        return nullptr;
      }
      return std::strtod(s.c_str(), nullptr);
    }
    default:
      return s;
  }
}

// Converts a YAML value to JSON. When marks is given, records the position of every value
// under its JSON Pointer (relative to `pointer`), so problems found in the JSON can be
// reported at their place in the file.
json ToJson(const YAML::Node& node, const std::string& pointer,
            std::map<std::string, YAML::Mark>* marks) {
  if (marks) (*marks)[pointer] = node.Mark();
  const Kind kind = KindOf(node);
  if (kind == Kind::kMap) {
    json out = json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (out.contains(key)) continue;  // duplicates are reported elsewhere; first wins
      out[key] = ToJson(it->second, pointer + "/" + PointerEscape(key), marks);
    }
    return out;
  }
  if (kind == Kind::kSeq) {
    json out = json::array();
    size_t i = 0;
    for (const YAML::Node& item : node) {
      out.push_back(ToJson(item, pointer + "/" + std::to_string(i++), marks));
    }
    return out;
  }
  return ScalarToJson(node, kind);
}

// A value that was meant as a string but parsed as a mapping because a template was left
// unquoted: `prompt: {{inputs.q}}` is a flow mapping in YAML.
bool IsUnquotedTemplate(const YAML::Node& node) {
  if (!node.IsMap() || node.size() != 1) return false;
  return node.begin()->first.IsMap();
}

// ---------------------------------------------------------------------------------------
// JSON Schema structure.

const std::vector<std::string>& SchemaTypeNames() {
  static const std::vector<std::string> kTypes = {"string", "number", "integer", "boolean",
                                                  "object", "array",  "null"};
  return kTypes;
}

std::string JsonKindName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_object()) return "an object";
  return "an array";
}

void CheckSchemaAt(const json& schema, const std::string& ptr, bool top,
                   std::vector<SchemaProblem>* out);

void CheckSubschema(const json& v, const std::string& ptr, std::vector<SchemaProblem>* out) {
  CheckSchemaAt(v, ptr, false, out);
}

void CheckSchemaAt(const json& schema, const std::string& ptr, bool top,
                   std::vector<SchemaProblem>* out) {
  if (schema.is_boolean() && !top) return;  // true / false are schemas below the top
  if (!schema.is_object()) {
    out->push_back({ptr, "a schema must be an object, got " + JsonKindName(schema)});
    return;
  }
  static const std::set<std::string> kSchemaMaps = {"properties", "patternProperties", "$defs",
                                                    "definitions", "dependentSchemas"};
  static const std::set<std::string> kSchemaValues = {"additionalProperties",
                                                      "additionalItems",
                                                      "unevaluatedProperties",
                                                      "unevaluatedItems",
                                                      "not",
                                                      "contains",
                                                      "propertyNames",
                                                      "if",
                                                      "then",
                                                      "else"};
  static const std::set<std::string> kSchemaLists = {"prefixItems", "anyOf", "oneOf", "allOf"};
  static const std::set<std::string> kNumbers = {"minimum", "maximum", "exclusiveMinimum",
                                                 "exclusiveMaximum", "multipleOf"};
  static const std::set<std::string> kCounts = {"minLength",   "maxLength",     "minItems",
                                                "maxItems",    "minProperties", "maxProperties",
                                                "minContains", "maxContains"};
  static const std::set<std::string> kStrings = {
      "pattern", "format", "$ref", "title", "description", "$schema", "$id", "$comment", "$anchor"};
  static const std::set<std::string> kBools = {"nullable", "uniqueItems", "deprecated", "readOnly",
                                               "writeOnly"};
  for (auto it = schema.begin(); it != schema.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    const std::string at = ptr + "/" + PointerEscape(key);
    const std::string quoted = "\"" + key + "\"";
    if (key == kFromContextKeyword) {
      if (v != "words" && v != "sentences") {
        out->push_back(
            {at, "\"x-from-context\" must be \"words\" or \"sentences\", got " + v.dump()});
      }
      // Its values are strings: a schema that rules strings out could never take them.
      const json* type = schema.contains("type") ? &schema["type"] : nullptr;
      const bool allows_string =
          type == nullptr || *type == "string" ||
          (type->is_array() && std::find(type->begin(), type->end(), "string") != type->end());
      if (!allows_string) {
        out->push_back({at, "\"x-from-context\" gives strings, but \"type\" is " + type->dump() +
                                " (add \"type\": \"string\")"});
      }
    } else if (key == "type") {
      auto known = [](const json& t) {
        return t.is_string() &&
               std::count(SchemaTypeNames().begin(), SchemaTypeNames().end(), t.get<std::string>());
      };
      bool ok = known(v);
      if (v.is_array() && !v.empty()) {
        ok = true;
        for (const json& t : v) ok = ok && known(t);
      }
      if (!ok) {
        out->push_back({at, "\"type\" must be one of " + JoinNames(SchemaTypeNames()) +
                                " (or a list of them), got " + v.dump()});
      }
    } else if (kSchemaMaps.count(key)) {
      if (!v.is_object()) {
        out->push_back({at, quoted + " must be an object of schemas, got " + JsonKindName(v)});
        continue;
      }
      for (auto p = v.begin(); p != v.end(); ++p) {
        CheckSubschema(p.value(), at + "/" + PointerEscape(p.key()), out);
      }
    } else if (key == "items") {
      if (v.is_array()) {  // draft-07 tuple form
        for (size_t i = 0; i < v.size(); ++i) {
          CheckSubschema(v[i], at + "/" + std::to_string(i), out);
        }
      } else {
        CheckSubschema(v, at, out);
      }
    } else if (kSchemaValues.count(key)) {
      CheckSubschema(v, at, out);
    } else if (kSchemaLists.count(key)) {
      if (!v.is_array() || v.empty()) {
        out->push_back({at, quoted + " must be a non-empty array of schemas"});
        continue;
      }
      for (size_t i = 0; i < v.size(); ++i) CheckSubschema(v[i], at + "/" + std::to_string(i), out);
    } else if (key == "required") {
      bool ok = v.is_array();
      if (ok) {
        for (const json& r : v) ok = ok && r.is_string();
      }
      if (!ok) out->push_back({at, "\"required\" must be an array of property names (strings)"});
    } else if (key == "enum") {
      if (!v.is_array() || v.empty()) out->push_back({at, "\"enum\" must be a non-empty array"});
    } else if (kNumbers.count(key)) {
      if (!v.is_number()) {
        out->push_back({at, quoted + " must be a number, got " + JsonKindName(v)});
      } else if (key == "multipleOf" && v.get<double>() <= 0) {
        out->push_back({at, "\"multipleOf\" must be greater than 0"});
      }
    } else if (kCounts.count(key)) {
      if (!(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))) {
        out->push_back({at, quoted + " must be a non-negative integer, got " + v.dump()});
      }
    } else if (kStrings.count(key)) {
      if (!v.is_string()) {
        out->push_back({at, quoted + " must be a string, got " + JsonKindName(v)});
      }
    } else if (kBools.count(key)) {
      if (!v.is_boolean()) {
        out->push_back({at, quoted + " must be true or false, got " + JsonKindName(v)});
      }
    }
    // Other keywords (default, const, examples, vendor extensions) take any value.
  }
}

// The {name} placeholders of a URL template; false when a brace is left open.
bool UrlPlaceholders(const std::string& url, std::vector<std::string>* names) {
  size_t pos = 0;
  while ((pos = url.find('{', pos)) != std::string::npos) {
    const size_t end = url.find('}', pos);
    if (end == std::string::npos) return false;
    names->push_back(url.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return true;
}

// ${NAME} in header values: NAME must be an environment variable name.
std::string CheckEnvReferences(const std::string& text) {
  size_t pos = 0;
  while ((pos = text.find("${", pos)) != std::string::npos) {
    const size_t end = text.find('}', pos);
    if (end == std::string::npos) return "unclosed ${ in \"" + text + "\"";
    const std::string name = text.substr(pos + 2, end - pos - 2);
    if (!IsIdentifier(name)) {
      return "\"${" + name + "}\" is not an environment variable name";
    }
    pos = end + 1;
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// The validator: one pass over the document that fills a WorkflowSpec and records every
// problem, then cross-checks (references, edges, reachability) once all names are known.

const std::vector<std::string> kTopFields = {"name",  "description", "inputs", "outputs",
                                             "model", "allow_hosts", "tools",  "state",
                                             "nodes", "edges",       "start",  "max_steps"};
const std::vector<std::string> kNodeTypes = {"agent",    "llm", "tool", "router",
                                             "retrieve", "map", "human"};
const std::vector<std::string> kCommonNodeFields = {"id", "type", "description"};
const std::vector<std::string> kConditionOps = {"equals", "not_equals",   "in",
                                                "exists", "greater_than", "less_than"};

std::vector<std::string> TypeFields(NodeType type) {
  switch (type) {
    case NodeType::kAgent:
      return {"prompt", "system", "tools", "bind", "max_rounds", "answer_schema", "output"};
    case NodeType::kLlm:
      return {"prompt", "system", "schema", "output"};
    case NodeType::kTool:
      return {"tool", "arguments", "output"};
    case NodeType::kRouter:
      return {"routes", "default"};
    case NodeType::kRetrieve:
      return {"tool", "folder", "query", "k", "output"};
    case NodeType::kMap:
      return {"over", "node", "output", "max_parallel"};
    case NodeType::kHuman:
      return {"prompt", "output"};
  }
  return {};
}

std::optional<NodeType> ParseNodeType(const std::string& s) {
  for (size_t i = 0; i < kNodeTypes.size(); ++i) {
    if (kNodeTypes[i] == s) return static_cast<NodeType>(i);
  }
  return std::nullopt;
}

// One key: value pair of a YAML mapping.
struct Entry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
  // Where to point at the value: an empty value has no position of its own.
  YAML::Mark mark() const { return KindOf(value) == Kind::kNull ? key.Mark() : value.Mark(); }
};

// The entries of one mapping by name, and what the mapping is ("agent node 'answer'").
struct Fields {
  std::string what;
  YAML::Mark mark;
  std::map<std::string, Entry> entries;
  const Entry* Find(const std::string& name) const {
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }
};

// A {{...}} or dotted reference to check once every state key is known.
struct PendingRef {
  TemplateRef ref;
  YAML::Mark mark;
  std::string node_id;  // the node the reference is in; empty outside nodes
};

// A node id named somewhere (edges, routes, maps, start) to check once all nodes are known.
struct PendingNodeRef {
  std::string id;
  YAML::Mark mark;
  std::string context;  // "edge 'to'", "route 'to' of router 'r'", ...
};

class Validator {
 public:
  Validator(std::string path, std::string base_dir, const WorkflowOptions& options)
      : path_(std::move(path)), base_dir_(std::move(base_dir)), options_(options) {
    spec_.file = path_;
    spec_.base_dir = base_dir_;
  }

  void Run(const std::string& text);
  WorkflowValidation Finish();

 private:
  void Error(const YAML::Mark& mark, std::string message, std::string hint = "");

  // Reads a mapping, reporting non-scalar keys, duplicate keys and keys not in `known`.
  // `hint_for_unknown` may explain an unknown key better than edit distance.
  Fields ReadFields(const YAML::Node& map, const std::string& what,
                    const std::vector<std::string>& known,
                    const std::function<std::string(const std::string&)>& hint_for_unknown = {});
  std::vector<Entry> Entries(const YAML::Node& map);

  // Typed field readers. Each reports a missing required field or a wrong type, and
  // returns whether *out was set.
  bool TypeError(const Fields& f, const Entry& e, const std::string& expected);
  bool Missing(const Fields& f, const std::string& name, bool required);
  bool String(const Fields& f, const std::string& name, std::string* out, bool required);
  bool Int(const Fields& f, const std::string& name, int64_t* out, bool required,
           int64_t min = INT_MIN, int64_t max = INT_MAX);
  bool Number(const Fields& f, const std::string& name, double* out, bool required);
  bool Bool(const Fields& f, const std::string& name, bool* out, bool required);
  bool Map(const Fields& f, const std::string& name, YAML::Node* out, bool required);
  bool List(const Fields& f, const std::string& name, YAML::Node* out, bool required);
  // A template string: parsed now, references checked later.
  bool TemplateField(const Fields& f, const std::string& name, std::string* out, bool required,
                     const std::string& node_id);
  void CheckTemplate(const YAML::Node& scalar, const std::string& node_id);
  void CheckTemplatesIn(const YAML::Node& value, const std::string& node_id);
  // A JSON Schema value; must_describe_object for tool parameters.
  bool Schema(const Fields& f, const std::string& name, json* out, bool required,
              bool must_describe_object);
  // A state key named by `output`.
  bool OutputKey(const Fields& f, std::string* out);
  void ValuePath(const Entry& e, const std::string& path, std::string* out);
  std::string ResolvePath(const std::string& p) const;
  bool ExistingFolder(const Entry& e, const std::string& folder, std::string* resolved);

  void ParseInputs(const Entry& e);
  void ParseOutputs(const Entry& e);
  void ParseModel(const Entry& e);
  void ParseAllowHosts(const Entry& e);
  void ParseTools(const Entry& e);
  void ParseTool(const YAML::Node& item);
  void ParseHttp(const Entry& e, const std::string& tool_name, const json* parameters,
                 tools::HttpToolConfig* http);
  void ParseRetrieveTool(const Entry& e, RetrieveToolConfig* config);
  void ParseState(const Entry& e);
  void ParseNodes(const Entry& e);
  void ParseNode(const YAML::Node& item);
  void ParseNodeConfig(const Fields& f, NodeSpec* node);
  // The entries of an arguments mapping into `out` (names checked against the tool's
  // parameters, templates against the inputs and state); the names given go to `given`.
  // `bound`: bind entries (declared parameters only, never empty).
  void ParseArgumentEntries(const YAML::Node& args, const std::string& node_id,
                            const WorkflowTool* tool, bool bound, json* out,
                            std::set<std::string>* given);
  void ParseBind(const Fields& f, const std::string& node_id,
                 const std::vector<std::string>& listed, AgentNode* agent);
  void ParseToolArguments(const Fields& f, const std::string& node_id, const WorkflowTool* tool,
                          ToolNode* config);
  bool ParseCondition(const Entry& e, const std::string& where, Condition* out);
  void ParseEdges(const Entry& e);
  const WorkflowTool* UseTool(const Entry& e, const std::string& name, const std::string& user);
  void CrossCheck();

  std::string path_;
  std::string base_dir_;
  const WorkflowOptions& options_;
  WorkflowSpec spec_;
  std::vector<Diagnostic> diagnostics_;

  std::vector<PendingRef> refs_;
  std::vector<PendingNodeRef> node_refs_;
  std::map<std::string, YAML::Mark> node_marks_;      // id -> position of the id
  std::map<std::string, YAML::Mark> tool_marks_;      // name -> position of the name
  std::map<std::string, YAML::Mark> output_missing_;  // node id -> node position (deferred)
  std::map<std::string, YAML::Mark> map_bodies_;      // body id -> position of `node:`
  std::map<std::string, std::string> map_of_body_;    // body id -> a map using it
  std::set<std::string> written_keys_;                // state keys nodes write
  // Every way one node leads to another (edges, routes, defaults, map bodies), recorded
  // as written, even when the rest of the node is broken, so one typo does not make the
  // rest of the graph look unreachable.
  std::multimap<std::string, std::string> successors_;
  std::set<std::string> broken_nodes_;  // ids of nodes whose type is unknown
};

void Validator::Error(const YAML::Mark& mark, std::string message, std::string hint) {
  Diagnostic d;
  d.file = path_;
  if (!mark.is_null() && mark.line >= 0) {
    d.line = mark.line + 1;
    d.column = mark.column + 1;
  }
  d.message = std::move(message);
  d.hint = std::move(hint);
  diagnostics_.push_back(std::move(d));
}

std::vector<Entry> Validator::Entries(const YAML::Node& map) {
  std::vector<Entry> out;
  std::map<std::string, int> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(it->first.Mark(),
            "a key must be a plain name, got " + std::string(KindName(KindOf(it->first))),
            it->first.IsMap() ? "quote values that start with {{ or {" : "");
      continue;
    }
    Entry e{it->first.Scalar(), it->first, it->second};
    auto [pos, inserted] = first_line.emplace(e.name, e.key.Mark().line + 1);
    if (!inserted) {
      Error(e.key.Mark(), "duplicate key '" + e.name + "'",
            "it is already set at line " + std::to_string(pos->second));
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

Fields Validator::ReadFields(
    const YAML::Node& map, const std::string& what, const std::vector<std::string>& known,
    const std::function<std::string(const std::string&)>& hint_for_unknown) {
  Fields f;
  f.what = what;
  f.mark = map.Mark();
  for (Entry& e : Entries(map)) {
    if (std::find(known.begin(), known.end(), e.name) == known.end()) {
      std::string hint = DidYouMean(e.name, known);
      if (hint.empty() && hint_for_unknown) hint = hint_for_unknown(e.name);
      if (hint.empty()) hint = "known fields: " + JoinNames(known);
      Error(e.key.Mark(), "unknown field '" + e.name + "' in " + what, hint);
      continue;
    }
    f.entries.emplace(e.name, std::move(e));
  }
  return f;
}

bool Validator::TypeError(const Fields& f, const Entry& e, const std::string& expected) {
  const Kind got = KindOf(e.value);
  std::string hint;
  if (IsUnquotedTemplate(e.value)) {
    hint = "quote a value that starts with {{: " + e.name + ": \"{{...}}\"";
  } else if (got == Kind::kString && !IsPlain(e.value) &&
             (LooksLikeInt(e.value.Scalar()) || LooksLikeFloat(e.value.Scalar()))) {
    hint = "remove the quotes around the number";
  } else if ((got == Kind::kInt || got == Kind::kFloat || got == Kind::kBool) &&
             expected == KindName(Kind::kString)) {
    hint = "quote it to make it a string";
  }
  Error(e.mark(),
        "'" + e.name + "' of " + f.what + " must be " + expected + ", got " + KindName(got), hint);
  return false;
}

bool Validator::Missing(const Fields& f, const std::string& name, bool required) {
  if (required) Error(f.mark, "missing required field '" + name + "' in " + f.what);
  return false;
}

bool Validator::String(const Fields& f, const std::string& name, std::string* out, bool required) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kString) return TypeError(f, *e, KindName(Kind::kString));
  *out = e->value.Scalar();
  return true;
}

bool Validator::Int(const Fields& f, const std::string& name, int64_t* out, bool required,
                    int64_t min, int64_t max) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kInt) return TypeError(f, *e, KindName(Kind::kInt));
  const json v = ScalarToJson(e->value, Kind::kInt);
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    std::string range = max >= INT_MAX
                            ? "at least " + std::to_string(min)
                            : "from " + std::to_string(min) + " to " + std::to_string(max);
    Error(e->mark(),
          "'" + name + "' of " + f.what + " must be " + range + ", got " + e->value.Scalar());
    return false;
  }
  *out = v.get<int64_t>();
  return true;
}

bool Validator::Number(const Fields& f, const std::string& name, double* out, bool required) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  const Kind k = KindOf(e->value);
  if (k != Kind::kInt && k != Kind::kFloat) return TypeError(f, *e, KindName(Kind::kFloat));
  const json v = ScalarToJson(e->value, k);
  if (!v.is_number()) return TypeError(f, *e, KindName(Kind::kFloat));  // .nan
  *out = v.get<double>();
  return true;
}

bool Validator::Bool(const Fields& f, const std::string& name, bool* out, bool required) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kBool) return TypeError(f, *e, "true or false");
  *out = ScalarToJson(e->value, Kind::kBool).get<bool>();
  return true;
}

bool Validator::Map(const Fields& f, const std::string& name, YAML::Node* out, bool required) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kMap) return TypeError(f, *e, KindName(Kind::kMap));
  *out = e->value;
  return true;
}

bool Validator::List(const Fields& f, const std::string& name, YAML::Node* out, bool required) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kSeq) return TypeError(f, *e, KindName(Kind::kSeq));
  *out = e->value;
  return true;
}

void Validator::CheckTemplate(const YAML::Node& scalar, const std::string& node_id) {
  StatusOr<Template> t = ParseTemplate(scalar.Scalar());
  if (!t.ok()) {
    Error(scalar.Mark(), t.status().message(),
          "references look like {{inputs.NAME}}, {{state.KEY}}, {{item}} or {{index}}");
    return;
  }
  for (const TemplatePart& part : t->parts) {
    if (part.is_ref) refs_.push_back({part.ref, scalar.Mark(), node_id});
  }
}

void Validator::CheckTemplatesIn(const YAML::Node& value, const std::string& node_id) {
  const Kind k = KindOf(value);
  if (k == Kind::kString) {
    CheckTemplate(value, node_id);
  } else if (k == Kind::kMap) {
    for (auto it = value.begin(); it != value.end(); ++it) CheckTemplatesIn(it->second, node_id);
  } else if (k == Kind::kSeq) {
    for (const YAML::Node& item : value) CheckTemplatesIn(item, node_id);
  }
}

bool Validator::TemplateField(const Fields& f, const std::string& name, std::string* out,
                              bool required, const std::string& node_id) {
  if (!String(f, name, out, required)) return false;
  CheckTemplate(f.Find(name)->value, node_id);
  return true;
}

bool Validator::Schema(const Fields& f, const std::string& name, json* out, bool required,
                       bool must_describe_object) {
  const Entry* e = f.Find(name);
  if (!e) return Missing(f, name, required);
  if (KindOf(e->value) != Kind::kMap) return TypeError(f, *e, "a JSON Schema mapping");
  std::map<std::string, YAML::Mark> marks;
  json schema = ToJson(e->value, "", &marks);
  const std::string where = "invalid JSON Schema in '" + name + "' of " + f.what + ": ";
  std::vector<SchemaProblem> problems = CheckSchemaStructure(schema);
  for (const SchemaProblem& p : problems) {
    auto m = marks.find(p.pointer);
    Error(m == marks.end() ? e->mark() : m->second, where + p.message);
  }
  if (must_describe_object && schema.contains("type") && schema["type"] != "object") {
    Error(marks[""], where + "tool parameters must describe an object (\"type\": \"object\")");
    return false;
  }
  if (!problems.empty()) return false;
  if (options_.check_schema) {
    const std::string message = options_.check_schema(schema);
    if (!message.empty()) {
      Error(e->mark(), where + message);
      return false;
    }
  }
  *out = std::move(schema);
  return true;
}

bool Validator::OutputKey(const Fields& f, std::string* out) {
  std::string key;
  if (!String(f, "output", &key, false)) return false;
  const Entry* e = f.Find("output");
  if (key.rfind("state.", 0) == 0) {
    Error(e->mark(), "'output' of " + f.what + " names a state key, not a path: '" + key + "'",
          "write output: " + key.substr(6));
    return false;
  }
  if (!IsIdentifier(key)) {
    Error(e->mark(), "'output' of " + f.what + " must be a state key name, got '" + key + "'",
          "letters, digits and _, starting with a letter");
    return false;
  }
  *out = key;
  written_keys_.insert(key);
  return true;
}

void Validator::ValuePath(const Entry& e, const std::string& path, std::string* out) {
  StatusOr<TemplateRef> ref = ParseValuePath(path);
  if (!ref.ok()) {
    std::string hint = "write state.KEY or inputs.NAME";
    if (path.find("{{") != std::string::npos) hint = "write the path without braces: state.KEY";
    Error(e.mark(), "'" + e.name + "': " + ref.status().message(), hint);
    return;
  }
  refs_.push_back({*ref, e.mark(), ""});
  *out = path;
}

std::string Validator::ResolvePath(const std::string& p) const {
  std::filesystem::path path(p);
  if (path.is_absolute() || base_dir_.empty()) return path.lexically_normal().string();
  return (std::filesystem::path(base_dir_) / path).lexically_normal().string();
}

bool Validator::ExistingFolder(const Entry& e, const std::string& folder, std::string* resolved) {
  *resolved = ResolvePath(folder);
  std::error_code ec;
  if (!std::filesystem::is_directory(*resolved, ec)) {
    const bool exists = std::filesystem::exists(*resolved, ec);
    Error(e.mark(),
          "retrieve folder '" + folder + "' " + (exists ? "is not a folder" : "does not exist"),
          "looked for " + std::filesystem::absolute(*resolved, ec).string() +
              "; folders are relative to the YAML file's folder");
    return false;
  }
  return true;
}

// ---- top level

void Validator::Run(const std::string& text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    Error(e.mark, "invalid YAML: " + e.msg);
    return;
  }
  if (docs.empty() || KindOf(docs[0]) == Kind::kNull) {
    Error(YAML::Mark::null_mark(), "the file is empty",
          "a workflow is a mapping with at least name: and nodes:");
    return;
  }
  if (docs.size() > 1) {
    Error(docs[1].Mark(), "the file holds more than one YAML document",
          "one workflow per file; remove the '---' line");
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    Error(root.Mark(),
          "the top level must be a mapping, got " + std::string(KindName(KindOf(root))),
          "a workflow is a mapping with at least name: and nodes:");
    return;
  }
  Fields top = ReadFields(root, "the workflow", kTopFields);
  String(top, "name", &spec_.name, true);
  String(top, "description", &spec_.description, false);
  if (const Entry* e = top.Find("inputs")) ParseInputs(*e);
  if (const Entry* e = top.Find("model")) ParseModel(*e);
  if (const Entry* e = top.Find("allow_hosts")) ParseAllowHosts(*e);
  if (const Entry* e = top.Find("tools")) ParseTools(*e);
  if (const Entry* e = top.Find("state")) ParseState(*e);
  if (const Entry* e = top.Find("nodes")) {
    ParseNodes(*e);
  } else {
    Missing(top, "nodes", true);
  }
  if (const Entry* e = top.Find("edges")) ParseEdges(*e);
  if (const Entry* e = top.Find("outputs")) ParseOutputs(*e);
  if (const Entry* e = top.Find("start")) {
    if (String(top, "start", &spec_.start, false)) {
      node_refs_.push_back({spec_.start, e->mark(), "'start'"});
    }
  } else if (!spec_.nodes.empty()) {
    spec_.start = spec_.nodes[0].id;
  }
  int64_t max_steps = 0;
  if (Int(top, "max_steps", &max_steps, false, 1)) spec_.max_steps = static_cast<int>(max_steps);
  CrossCheck();
}

WorkflowValidation Validator::Finish() {
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     return std::make_pair(a.line, a.column) < std::make_pair(b.line, b.column);
                   });
  WorkflowValidation v;
  v.diagnostics = std::move(diagnostics_);
  if (v.diagnostics.empty()) v.spec = std::move(spec_);
  return v;
}

// ---- inputs, outputs, model, hosts, state

void Validator::ParseInputs(const Entry& e) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(
        e.mark(),
        "'inputs' must be a mapping of input names, got " + std::string(KindName(KindOf(e.value))),
        "e.g. inputs: {question: {type: string}}");
    return;
  }
  static const std::vector<std::string> kTypeNames = {"string",  "number", "integer",
                                                      "boolean", "object", "array"};
  for (const Entry& in : Entries(e.value)) {
    InputSpec input;
    input.name = in.name;
    if (!IsIdentifier(in.name)) {
      Error(in.key.Mark(), "input name '" + in.name + "' is not a valid name",
            "letters, digits and _, starting with a letter");
    }
    if (KindOf(in.value) != Kind::kMap) {
      Error(in.mark(),
            "input '" + in.name + "' must be a mapping, got " +
                std::string(KindName(KindOf(in.value))),
            "write " + in.name + ": {type: string}");
      continue;
    }
    Fields f = ReadFields(in.value, "input '" + in.name + "'",
                          {"type", "description", "default", "required"});
    std::string type = "string";
    if (String(f, "type", &type, false)) {
      auto it = std::find(kTypeNames.begin(), kTypeNames.end(), type);
      if (it == kTypeNames.end()) {
        Error(f.Find("type")->mark(), "unknown type '" + type + "' of input '" + in.name + "'",
              SuggestOrList(type, kTypeNames, "types: "));
      } else {
        input.type = static_cast<ValueType>(it - kTypeNames.begin());
      }
    }
    String(f, "description", &input.description, false);
    if (const Entry* d = f.Find("default")) {
      const Kind k = KindOf(d->value);
      bool ok = true;
      switch (input.type) {
        case ValueType::kString:
          ok = k == Kind::kString;
          break;
        case ValueType::kNumber:
          ok = k == Kind::kInt || k == Kind::kFloat;
          break;
        case ValueType::kInteger:
          ok = k == Kind::kInt;
          break;
        case ValueType::kBoolean:
          ok = k == Kind::kBool;
          break;
        case ValueType::kObject:
          ok = k == Kind::kMap;
          break;
        case ValueType::kArray:
          ok = k == Kind::kSeq;
          break;
      }
      if (!ok) {
        Error(d->mark(), "the default of input '" + in.name + "' must be of type " +
                             ValueTypeName(input.type) + ", got " + KindName(k));
      } else {
        input.default_value = ToJson(d->value, "", nullptr);
      }
      input.required = false;
    }
    bool required = input.required;
    if (Bool(f, "required", &required, false)) {
      if (required && f.Find("default")) {
        Error(f.Find("required")->mark(),
              "input '" + in.name +
                  "' has a default, so it is "
                  "never required",
              "remove required: true or the default");
      }
      input.required = required;
    }
    spec_.inputs.push_back(std::move(input));
  }
}

void Validator::ParseOutputs(const Entry& e) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(),
          "'outputs' must be a mapping of output names, got " +
              std::string(KindName(KindOf(e.value))),
          "e.g. outputs: {answer: {from: state.answer}}");
    return;
  }
  for (const Entry& out : Entries(e.value)) {
    OutputSpec o;
    o.name = out.name;
    if (KindOf(out.value) != Kind::kMap) {
      Error(out.mark(),
            "output '" + out.name + "' must be a mapping, got " +
                std::string(KindName(KindOf(out.value))),
            "write " + out.name + ": {from: state.KEY}");
      continue;
    }
    Fields f = ReadFields(out.value, "output '" + out.name + "'", {"from", "description"});
    std::string from;
    if (String(f, "from", &from, true)) ValuePath(*f.Find("from"), from, &o.from);
    String(f, "description", &o.description, false);
    spec_.outputs.push_back(std::move(o));
  }
}

void Validator::ParseModel(const Entry& e) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(), "'model' must be a mapping, got " + std::string(KindName(KindOf(e.value))),
          "model: {path: builtin}");
    return;
  }
  Fields f = ReadFields(e.value, "model",
                        {"path", "gen_length", "steps", "block_length", "threshold", "temperature",
                         "seed", "max_tokens", "draft"});
  ModelSpec& m = spec_.model;
  if (String(f, "path", &m.path, false)) {
    m.resolved_path = m.path == "builtin" ? m.path : ResolvePath(m.path);
  }
  int64_t v = 0;
  if (Int(f, "gen_length", &v, false, 1, 1 << 20)) m.gen_length = static_cast<int>(v);
  if (Int(f, "steps", &v, false, 1, 1 << 20)) m.steps = static_cast<int>(v);
  if (Int(f, "block_length", &v, false, 1, 1 << 20)) {
    m.block_length = static_cast<int>(v);
    if (m.gen_length % m.block_length != 0) {
      Error(f.Find("block_length")->mark(),
            "model block_length " + std::to_string(m.block_length) +
                " does not divide gen_length " + std::to_string(m.gen_length),
            "the canvas is split into whole blocks");
    }
  }
  double d = 0;
  if (Number(f, "threshold", &d, false)) {
    if (d <= 0 || d > 1) {
      Error(f.Find("threshold")->mark(),
            "model threshold must be in (0, 1], got " + f.Find("threshold")->value.Scalar());
    }
    m.threshold = d;
  }
  if (Number(f, "temperature", &d, false)) {
    if (d < 0) Error(f.Find("temperature")->mark(), "model temperature must be at least 0");
    m.temperature = d;
  }
  if (Int(f, "seed", &v, false, 0, INT64_MAX)) m.seed = v;
  Bool(f, "draft", &m.draft, false);
  if (Int(f, "max_tokens", &v, false, 1, 1 << 24)) {
    m.max_tokens = static_cast<int>(v);
    if (m.max_tokens < m.gen_length) {
      Error(f.Find("max_tokens")->mark(),
            "model max_tokens " + std::to_string(m.max_tokens) + " is less than gen_length " +
                std::to_string(m.gen_length),
            "max_tokens bounds prompt + canvas");
    }
  }
}

void Validator::ParseAllowHosts(const Entry& e) {
  spec_.allow_hosts.allow_loopback = true;
  if (KindOf(e.value) != Kind::kSeq) {
    Error(
        e.mark(),
        "'allow_hosts' must be a list of host names, got " + std::string(KindName(KindOf(e.value))),
        "allow_hosts: [api.example.com]");
    return;
  }
  for (const YAML::Node& item : e.value) {
    if (KindOf(item) != Kind::kString) {
      Error(item.Mark(),
            "allow_hosts entries must be host names, got " + std::string(KindName(KindOf(item))));
      continue;
    }
    const std::string host = item.Scalar();
    if (host.find("://") != std::string::npos || host.find('/') != std::string::npos ||
        host.empty()) {
      Error(item.Mark(), "allow_hosts entry '" + host + "' is not a host name",
            "write the host only, e.g. api.example.com");
      continue;
    }
    spec_.allow_hosts.hosts.push_back(host);
  }
}

void Validator::ParseState(const Entry& e) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(),
          "'state' must be a mapping of state keys, got " + std::string(KindName(KindOf(e.value))),
          "e.g. state: {notes: {reducer: append}}");
    return;
  }
  static const std::vector<std::string> kReducers = {"overwrite", "append", "merge"};
  for (const Entry& s : Entries(e.value)) {
    StateKeySpec key;
    key.key = s.name;
    if (!IsIdentifier(s.name)) {
      Error(s.key.Mark(), "state key '" + s.name + "' is not a valid name",
            "letters, digits and _, starting with a letter");
    }
    if (KindOf(s.value) == Kind::kNull) {  // `notes:` alone: overwrite, initially null
      spec_.state.push_back(std::move(key));
      continue;
    }
    if (KindOf(s.value) != Kind::kMap) {
      Error(s.mark(),
            "state key '" + s.name + "' must be a mapping, got " +
                std::string(KindName(KindOf(s.value))),
            "write " + s.name + ": {reducer: overwrite, initial: ...}");
      continue;
    }
    Fields f = ReadFields(s.value, "state key '" + s.name + "'", {"reducer", "initial"});
    std::string reducer;
    if (String(f, "reducer", &reducer, false)) {
      auto it = std::find(kReducers.begin(), kReducers.end(), reducer);
      if (it == kReducers.end()) {
        Error(f.Find("reducer")->mark(),
              "unknown reducer '" + reducer + "' of state key '" + s.name + "'",
              SuggestOrList(reducer, kReducers, "reducers: "));
      } else {
        key.reducer = static_cast<Reducer>(it - kReducers.begin());
      }
    }
    key.initial = key.reducer == Reducer::kAppend  ? json::array()
                  : key.reducer == Reducer::kMerge ? json::object()
                                                   : json();
    if (const Entry* init = f.Find("initial")) {
      const Kind k = KindOf(init->value);
      if (key.reducer == Reducer::kAppend && k != Kind::kSeq) {
        Error(init->mark(), "the initial value of append key '" + s.name +
                                "' must be a list, got " + KindName(k));
      } else if (key.reducer == Reducer::kMerge && k != Kind::kMap) {
        Error(init->mark(), "the initial value of merge key '" + s.name +
                                "' must be a mapping, got " + KindName(k));
      } else {
        key.initial = ToJson(init->value, "", nullptr);
      }
    }
    spec_.state.push_back(std::move(key));
  }
}

// ---- tools

void Validator::ParseTools(const Entry& e) {
  if (KindOf(e.value) != Kind::kSeq) {
    Error(e.mark(),
          "'tools' must be a list of tools, got " + std::string(KindName(KindOf(e.value))),
          "each tool is a mapping with name, description and http or retrieve");
    return;
  }
  for (const YAML::Node& item : e.value) ParseTool(item);
}

void Validator::ParseTool(const YAML::Node& item) {
  if (KindOf(item) != Kind::kMap) {
    Error(item.Mark(), "a tool must be a mapping, got " + std::string(KindName(KindOf(item))));
    return;
  }
  // The name first, so every later message can say which tool it is about.
  std::string name;
  const YAML::Node name_node = item["name"];
  if (KindOf(name_node) == Kind::kString) name = name_node.Scalar();
  const std::string what = name.empty() ? "a tool" : "tool '" + name + "'";
  Fields f = ReadFields(item, what,
                        {"name", "description", "parameters", "http", "retrieve", "output_schema"});
  WorkflowTool tool;
  tool.pos = {item.Mark().line + 1, item.Mark().column + 1};
  if (String(f, "name", &tool.name, true)) {
    const Entry* ne = f.Find("name");
    if (!IsName(tool.name)) {
      Error(ne->mark(), "tool name '" + tool.name + "' is not a valid name",
            "1-64 characters of a-z, A-Z, 0-9, _ or -");
    }
    auto [it, inserted] = tool_marks_.emplace(tool.name, ne->mark());
    if (!inserted) {
      Error(ne->mark(), "duplicate tool name '" + tool.name + "'",
            "first defined at line " + std::to_string(it->second.line + 1));
      return;
    }
  }
  std::string description;
  const bool has_description = String(f, "description", &description, false);
  Schema(f, "output_schema", &tool.output_schema, false, false);
  const Entry* http = f.Find("http");
  const Entry* retrieve = f.Find("retrieve");
  if (http && retrieve) {
    const Entry* later = http->key.Mark().pos > retrieve->key.Mark().pos ? http : retrieve;
    Error(later->key.Mark(), what + " has both 'http' and 'retrieve'",
          "a tool is either an HTTP call or a document search; split it into two tools");
    return;
  }
  if (!http && !retrieve) {
    Error(f.mark, what + " needs one of 'http' or 'retrieve'",
          "http: {method: GET, url: ...} calls a service; retrieve: {folder: docs} searches files");
    return;
  }
  if (http) {
    tool.kind = ToolKind::kHttp;
    tools::ToolSpec& spec = tool.http.spec;
    spec.name = tool.name;
    spec.description = description;
    // The model chooses among tools by their descriptions.
    if (!f.Find("description")) Missing(f, "description", true);
    spec.parameters = json{{"type", "object"}, {"properties", json::object()}};
    json parameters;
    const bool parameters_ok =
        !f.Find("parameters") || Schema(f, "parameters", &parameters, false, true);
    if (!parameters.is_null()) spec.parameters = parameters;
    // Broken parameters are reported already; the URL and query are checked against
    // them only when they are usable.
    ParseHttp(*http, tool.name, parameters_ok ? &spec.parameters : nullptr, &tool.http);
  } else {
    tool.kind = ToolKind::kRetrieve;
    if (const Entry* p = f.Find("parameters")) {
      Error(p->key.Mark(), "a retrieve tool takes no 'parameters'",
            "its parameters are fixed: query (string) and k (integer)");
    }
    tool.retrieve.spec = tools::RetrieveToolSpec(tool.name);
    if (has_description) tool.retrieve.spec.description = description;
    ParseRetrieveTool(*retrieve, &tool.retrieve);
  }
  spec_.tools.push_back(std::move(tool));
}

void Validator::ParseHttp(const Entry& e, const std::string& tool_name, const json* parameters,
                          tools::HttpToolConfig* http) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(),
          "'http' of tool '" + tool_name + "' must be a mapping, got " + KindName(KindOf(e.value)),
          "http: {method: GET, url: \"http://127.0.0.1:8765/items/{id}\"}");
    return;
  }
  Fields f = ReadFields(e.value, "the http settings of tool '" + tool_name + "'",
                        {"method", "url", "query", "headers", "timeout_seconds", "retries",
                         "backoff_seconds", "safe_to_retry", "max_response_bytes", "response"});
  // The tool's parameter names, for placeholders and query names (null: unknown).
  std::vector<std::string> params;
  if (parameters && parameters->contains("properties") &&
      parameters->at("properties").is_object()) {
    for (const auto& [name, schema] : parameters->at("properties").items()) {
      params.push_back(name);
    }
  }
  auto is_param = [&](const std::string& name) {
    return !parameters || std::find(params.begin(), params.end(), name) != params.end();
  };
  std::string method;
  if (String(f, "method", &method, false)) {
    static const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    std::string upper = method;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::find(kMethods.begin(), kMethods.end(), upper) == kMethods.end()) {
      Error(f.Find("method")->mark(),
            "unknown HTTP method '" + method + "' of tool '" + tool_name + "'",
            SuggestOrList(upper, kMethods, "methods: "));
    } else {
      http->method = upper;
    }
  }
  if (String(f, "url", &http->url, true)) {
    const YAML::Mark mark = f.Find("url")->mark();
    std::vector<std::string> placeholders;
    StatusOr<tools::ParsedUrl> url = tools::ParseUrl(http->url);
    if (!UrlPlaceholders(http->url, &placeholders)) {
      Error(mark, "unclosed { in the URL of tool '" + tool_name + "'",
            "placeholders look like {order_id}");
    } else if (!url.ok()) {
      Error(mark, "bad URL of tool '" + tool_name + "': " + url.status().message());
    } else if (url->host.find('{') != std::string::npos ||
               url->host.find('}') != std::string::npos) {
      Error(mark, "the host in the URL of tool '" + tool_name + "' is a placeholder",
            "hosts must be fixed so that allow_hosts can be checked; use placeholders in the path");
    } else {
      if (!spec_.allow_hosts.Allows(url->host)) {
        Error(mark, "host '" + url->host + "' of tool '" + tool_name + "' is not on allow_hosts",
              "add it to allow_hosts; loopback is always allowed");
      }
      for (const std::string& p : placeholders) {
        if (!is_param(p)) {
          std::string hint = DidYouMean(p, params);
          if (hint.empty()) hint = "declare it under parameters.properties";
          Error(mark,
                "URL placeholder {" + p + "} of tool '" + tool_name +
                    "' is not one of its parameters",
                hint);
        }
      }
    }
  }
  YAML::Node query;
  if (List(f, "query", &query, false)) {
    for (const YAML::Node& q : query) {
      if (KindOf(q) != Kind::kString) {
        Error(q.Mark(), "query entries of tool '" + tool_name + "' must be parameter names");
        continue;
      }
      if (!is_param(q.Scalar())) {
        std::string hint = DidYouMean(q.Scalar(), params);
        if (hint.empty()) hint = "declare it under parameters.properties";
        Error(q.Mark(),
              "query parameter '" + q.Scalar() + "' of tool '" + tool_name +
                  "' is not one of its parameters",
              hint);
        continue;
      }
      http->query.push_back(q.Scalar());
    }
  }
  YAML::Node headers;
  if (Map(f, "headers", &headers, false)) {
    for (const Entry& h : Entries(headers)) {
      if (KindOf(h.value) != Kind::kString) {
        Error(h.mark(),
              "header '" + h.name + "' of tool '" + tool_name + "' must be a string, got " +
                  KindName(KindOf(h.value)),
              "quote it");
        continue;
      }
      const std::string problem = CheckEnvReferences(h.value.Scalar());
      if (!problem.empty()) {
        Error(h.mark(), "header '" + h.name + "' of tool '" + tool_name + "': " + problem,
              "secrets come from the environment as ${NAME}");
        continue;
      }
      http->headers[h.name] = h.value.Scalar();
    }
  }
  double d = 0;
  if (Number(f, "timeout_seconds", &d, false)) {
    if (d <= 0) Error(f.Find("timeout_seconds")->mark(), "timeout_seconds must be greater than 0");
    http->timeout_seconds = d;
  }
  int64_t v = 0;
  if (Int(f, "retries", &v, false, 0, 10)) http->max_retries = static_cast<int>(v);
  if (Number(f, "backoff_seconds", &d, false)) {
    if (d < 0) Error(f.Find("backoff_seconds")->mark(), "backoff_seconds must be at least 0");
    http->backoff_initial_seconds = d;
  }
  Bool(f, "safe_to_retry", &http->safe_to_retry, false);
  if (Int(f, "max_response_bytes", &v, false, 1, INT64_MAX)) http->max_response_bytes = v;
  std::string response;
  if (String(f, "response", &response, false)) {
    if (response != "json" && response != "text") {
      Error(f.Find("response")->mark(),
            "'response' of tool '" + tool_name + "' must be json or text, got '" + response + "'");
    }
    http->json_response = response != "text";
  }
}

void Validator::ParseRetrieveTool(const Entry& e, RetrieveToolConfig* config) {
  const std::string& name = config->spec.name;
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(),
          "'retrieve' of tool '" + name + "' must be a mapping, got " + KindName(KindOf(e.value)),
          "retrieve: {folder: docs}");
    return;
  }
  Fields f = ReadFields(e.value, "the retrieve settings of tool '" + name + "'",
                        {"folder", "k", "index", "chunks", "questions", "min_score"});
  if (String(f, "folder", &config->folder, true)) {
    ExistingFolder(*f.Find("folder"), config->folder, &config->folder_path);
  }
  int64_t k = 0;
  if (Int(f, "k", &k, false, 1, 10)) config->k = static_cast<int>(k);
  if (String(f, "index", &config->index, false)) config->index_path = ResolvePath(config->index);
  std::string chunks;
  if (String(f, "chunks", &chunks, false)) {
    if (chunks == "sentences" || chunks == "paragraphs") {
      config->sentence_chunks = chunks == "sentences";
    } else {
      Error(f.Find("chunks")->value.Mark(),
            "'chunks' of tool '" + name + "' must be paragraphs or sentences, got '" + chunks + "'",
            "paragraphs (the default) keeps sections together; sentences makes each sentence, "
            "table row and list item a passage of its own");
    }
  }
  if (String(f, "questions", &config->questions, false)) {
    config->questions_path = ResolvePath(config->questions);
    StatusOr<std::vector<tools::PassageQuestions>> loaded =
        tools::LoadPassageQuestions(config->questions_path);
    if (!loaded.ok()) {
      Error(f.Find("questions")->value.Mark(), loaded.status().message(),
            "paths are relative to the YAML file's folder");
    }
  }
  if (Number(f, "min_score", &config->min_score, false) && config->min_score < 0) {
    Error(f.Find("min_score")->value.Mark(),
          "'min_score' of tool '" + name + "' must be at least 0",
          "0 keeps every match; results are ranked by BM25, higher is better");
  }
}

// ---- nodes

void Validator::ParseNodes(const Entry& e) {
  if (KindOf(e.value) != Kind::kSeq || e.value.size() == 0) {
    Error(
        e.mark(),
        "'nodes' must be a non-empty list of nodes, got " + std::string(KindName(KindOf(e.value))),
        "each node is a mapping with id, type and its fields");
    return;
  }
  for (const YAML::Node& item : e.value) ParseNode(item);
}

void Validator::ParseNode(const YAML::Node& item) {
  if (KindOf(item) != Kind::kMap) {
    Error(item.Mark(), "a node must be a mapping, got " + std::string(KindName(KindOf(item))));
    return;
  }
  NodeSpec node;
  node.pos = {item.Mark().line + 1, item.Mark().column + 1};
  // id and type first: they decide the node's name in messages and its known fields.
  const YAML::Node id_node = item["id"];
  const YAML::Node type_node = item["type"];
  if (KindOf(id_node) == Kind::kString) node.id = id_node.Scalar();
  std::optional<NodeType> type;
  if (KindOf(type_node) == Kind::kString) type = ParseNodeType(type_node.Scalar());

  std::vector<std::string> known = kCommonNodeFields;
  std::string what;
  if (type) {
    const std::vector<std::string> extra = TypeFields(*type);
    known.insert(known.end(), extra.begin(), extra.end());
    what =
        std::string(NodeTypeName(*type)) + " node" + (node.id.empty() ? "" : " '" + node.id + "'");
  } else {
    for (NodeType t : {NodeType::kAgent, NodeType::kLlm, NodeType::kTool, NodeType::kRouter,
                       NodeType::kRetrieve, NodeType::kMap, NodeType::kHuman}) {
      for (const std::string& field : TypeFields(t)) {
        if (std::find(known.begin(), known.end(), field) == known.end()) known.push_back(field);
      }
    }
    what = node.id.empty() ? "a node" : "node '" + node.id + "'";
  }
  // A field that belongs to other node types: say which, rather than "unknown".
  auto other_types = [&](const std::string& field) {
    std::vector<std::string> owners;
    for (size_t i = 0; i < kNodeTypes.size(); ++i) {
      std::vector<std::string> fields = TypeFields(static_cast<NodeType>(i));
      if (std::find(fields.begin(), fields.end(), field) != fields.end()) {
        owners.push_back(kNodeTypes[i]);
      }
    }
    if (owners.empty()) return std::string();
    return "'" + field + "' is a field of " + JoinNames(owners) + " nodes";
  };
  Fields f = ReadFields(item, what, known, other_types);

  if (String(f, "id", &node.id, true)) {
    const Entry* ie = f.Find("id");
    if (!IsName(node.id)) {
      Error(ie->mark(), "node id '" + node.id + "' is not a valid id",
            "1-64 characters of a-z, A-Z, 0-9, _ or -");
    }
    auto [it, inserted] = node_marks_.emplace(node.id, ie->mark());
    if (!inserted) {
      Error(ie->mark(), "duplicate node id '" + node.id + "'",
            "first defined at line " + std::to_string(it->second.line + 1));
      return;
    }
  }
  std::string type_name;
  if (String(f, "type", &type_name, true) && !type) {
    Error(f.Find("type")->mark(), "unknown node type '" + type_name + "' in " + what,
          SuggestOrList(type_name, kNodeTypes, "node types: "));
  }
  String(f, "description", &node.description, false);
  if (!type) {  // the id still counts for edges and reachability, so errors do not cascade
    if (!node.id.empty()) broken_nodes_.insert(node.id);
    return;
  }
  node.type = *type;
  ParseNodeConfig(f, &node);
  if (!node.id.empty()) spec_.nodes.push_back(std::move(node));  // else: reported, unusable
}

const WorkflowTool* Validator::UseTool(const Entry& e, const std::string& name,
                                       const std::string& user) {
  for (const WorkflowTool& t : spec_.tools) {
    if (t.name == name) return &t;
  }
  if (tool_marks_.count(name)) return nullptr;  // declared but broken: reported already
  std::vector<std::string> names;
  for (const auto& [n, mark] : tool_marks_) names.push_back(n);
  std::string hint = DidYouMean(name, names);
  if (hint.empty()) {
    hint = names.empty() ? "declare it under tools:" : "tools: " + JoinNames(names);
  }
  Error(e.mark(), user + " uses unknown tool '" + name + "'", hint);
  return nullptr;
}

void Validator::ParseNodeConfig(const Fields& f, NodeSpec* node) {
  const std::string& id = node->id;
  int64_t v = 0;
  // Nodes whose result must go somewhere; map bodies are let off later (CrossCheck).
  const bool needs_output = node->type != NodeType::kRouter && node->type != NodeType::kTool;
  if (node->type != NodeType::kRouter) OutputKey(f, &node->output);
  if (needs_output && !f.Find("output") && !id.empty()) output_missing_[id] = f.mark;

  switch (node->type) {
    case NodeType::kAgent: {
      AgentNode a;
      TemplateField(f, "prompt", &a.prompt, true, id);
      TemplateField(f, "system", &a.system, false, id);
      YAML::Node list;
      std::vector<std::string> listed;  // every name, resolved or not
      if (List(f, "tools", &list, false)) {
        for (const YAML::Node& t : list) {
          if (KindOf(t) != Kind::kString) {
            Error(t.Mark(), "'tools' of " + f.what + " must list tool names");
            continue;
          }
          listed.push_back(t.Scalar());
          Entry te{"tools", t, t};
          if (UseTool(te, t.Scalar(), f.what)) a.tools.push_back(t.Scalar());
        }
      }
      ParseBind(f, id, listed, &a);
      if (Int(f, "max_rounds", &v, false, 1, 1000)) a.max_rounds = static_cast<int>(v);
      Schema(f, "answer_schema", &a.answer_schema, false, false);
      node->config = std::move(a);
      break;
    }
    case NodeType::kLlm: {
      LlmNode l;
      TemplateField(f, "prompt", &l.prompt, true, id);
      TemplateField(f, "system", &l.system, false, id);
      Schema(f, "schema", &l.schema, false, false);
      node->config = std::move(l);
      break;
    }
    case NodeType::kTool: {
      ToolNode t;
      const WorkflowTool* tool = nullptr;
      if (String(f, "tool", &t.tool, true)) tool = UseTool(*f.Find("tool"), t.tool, f.what);
      ParseToolArguments(f, id, tool, &t);
      node->config = std::move(t);
      break;
    }
    case NodeType::kRouter: {
      RouterNode r;
      YAML::Node routes;
      if (List(f, "routes", &routes, true)) {
        if (routes.size() == 0) {
          Error(f.Find("routes")->mark(), "'routes' of " + f.what + " is empty");
        }
        for (const YAML::Node& item : routes) {
          if (KindOf(item) != Kind::kMap) {
            Error(item.Mark(), "a route must be a mapping {when: ..., to: ...}, got " +
                                   std::string(KindName(KindOf(item))));
            continue;
          }
          Fields rf = ReadFields(item, "a route of " + f.what, {"when", "to"});
          Route route;
          bool ok = true;
          if (const Entry* w = rf.Find("when")) {
            ok = ParseCondition(*w, "a route of " + f.what, &route.when);
          } else {
            ok = Missing(rf, "when", true);
          }
          if (String(rf, "to", &route.to, true)) {
            node_refs_.push_back({route.to, rf.Find("to")->mark(), "a route of " + f.what});
            successors_.emplace(id, route.to);
          } else {
            ok = false;
          }
          if (ok) r.routes.push_back(std::move(route));
        }
      }
      if (String(f, "default", &r.default_to, false)) {
        node_refs_.push_back({r.default_to, f.Find("default")->mark(), "'default' of " + f.what});
        successors_.emplace(id, r.default_to);
      }
      node->config = std::move(r);
      break;
    }
    case NodeType::kRetrieve: {
      RetrieveNode r;
      const Entry* tool = f.Find("tool");
      const Entry* folder = f.Find("folder");
      if (tool && folder) {
        const Entry* later = tool->key.Mark().pos > folder->key.Mark().pos ? tool : folder;
        Error(later->key.Mark(), f.what + " has both 'tool' and 'folder'",
              "name a retrieve tool, or a folder to search directly, not both");
      } else if (!tool && !folder) {
        Error(f.mark, f.what + " needs one of 'tool' or 'folder'",
              "tool: a retrieve tool's name, or folder: a folder of documents");
      } else if (tool) {
        if (String(f, "tool", &r.tool, true)) {
          const WorkflowTool* t = UseTool(*tool, r.tool, f.what);
          if (t && t->kind != ToolKind::kRetrieve) {
            Error(tool->mark(), f.what + " names tool '" + r.tool + "', which is an HTTP tool",
                  "a retrieve node needs a tool with retrieve: settings; use a tool node instead");
          } else if (t) {
            r.k = t->retrieve.k;
          }
        }
      } else if (String(f, "folder", &r.folder, true)) {
        ExistingFolder(*folder, r.folder, &r.folder_path);
      }
      TemplateField(f, "query", &r.query, true, id);
      if (Int(f, "k", &v, false, 1, 10)) r.k = static_cast<int>(v);
      node->config = std::move(r);
      break;
    }
    case NodeType::kMap: {
      MapNode m;
      std::string over;
      if (String(f, "over", &over, true)) ValuePath(*f.Find("over"), over, &m.over);
      if (String(f, "node", &m.node, true)) {
        const YAML::Mark mark = f.Find("node")->mark();
        node_refs_.push_back({m.node, mark, "'node' of " + f.what});
        successors_.emplace(id, m.node);
        if (m.node == id) {
          Error(mark, f.what + " runs itself for each item",
                "'node' names the node to run per item: an agent, llm, tool or retrieve node");
        } else {
          map_bodies_.emplace(m.node, mark);
          map_of_body_.emplace(m.node, id);
        }
      }
      if (Int(f, "max_parallel", &v, false, 1, 256)) m.max_parallel = static_cast<int>(v);
      node->config = std::move(m);
      break;
    }
    case NodeType::kHuman: {
      HumanNode h;
      TemplateField(f, "prompt", &h.prompt, true, id);
      node->config = std::move(h);
      break;
    }
  }
}

void Validator::ParseArgumentEntries(const YAML::Node& args, const std::string& node_id,
                                     const WorkflowTool* tool, bool bound, json* out,
                                     std::set<std::string>* given) {
  std::vector<std::string> params;
  // Arguments must be declared properties unless the schema admits others explicitly
  // (JSON Schema would allow extras by default, but here one is almost always a typo). A
  // bound one always: it is taken out of the schema the model sees.
  bool closed = bound;
  if (tool) {
    const json& schema = tool->spec().parameters;
    if (schema.contains("properties") && schema["properties"].is_object()) {
      for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it) {
        params.push_back(it.key());
      }
      const json extra = schema.value("additionalProperties", json(false));
      closed = closed || !(extra == true || extra.is_object());
    }
  }
  const std::string kind = bound ? "bound argument '" : "argument '";
  for (const Entry& a : Entries(args)) {
    given->insert(a.name);
    if (tool && closed && std::find(params.begin(), params.end(), a.name) == params.end()) {
      std::string hint = DidYouMean(a.name, params);
      if (hint.empty() && params.empty()) hint = "the tool takes no arguments";
      if (hint.empty()) hint = "parameters: " + JoinNames(params);
      Error(a.key.Mark(), kind + a.name + "' is not a parameter of tool '" + tool->name + "'",
            hint);
      continue;
    }
    const Kind value_kind = KindOf(a.value);
    if (bound &&
        (value_kind == Kind::kNull || (value_kind == Kind::kString && a.value.Scalar().empty()))) {
      Error(a.mark(), kind + a.name + "' of tool '" + tool->name + "' is empty",
            "a tool whose bound value is empty is never offered; give a value or a template");
      continue;
    }
    CheckTemplatesIn(a.value, node_id);
    (*out)[a.name] = ToJson(a.value, "", nullptr);
  }
}

// bind: {TOOL: {PARAMETER: VALUE}}: arguments the executor sets, hidden from the model.
// `listed`: every name under the node's tools, resolved or not (those that did not resolve
// are reported there once).
void Validator::ParseBind(const Fields& f, const std::string& node_id,
                          const std::vector<std::string>& listed, AgentNode* agent) {
  YAML::Node bind;
  if (!Map(f, "bind", &bind, false)) return;  // absent, or the wrong type (reported)
  for (const Entry& b : Entries(bind)) {
    const bool resolved =
        std::find(agent->tools.begin(), agent->tools.end(), b.name) != agent->tools.end();
    if (!resolved) {
      if (std::find(listed.begin(), listed.end(), b.name) != listed.end()) continue;
      std::string hint = spec_.FindTool(b.name) ? "add '" + b.name + "' to the node's tools"
                                                : DidYouMean(b.name, agent->tools);
      if (hint.empty()) {
        hint = agent->tools.empty() ? "add the tool to tools: first"
                                    : "tools: " + JoinNames(agent->tools);
      }
      Error(b.key.Mark(),
            "'bind' of " + f.what + " names tool '" + b.name + "', which is not in its tools",
            hint);
      continue;
    }
    if (KindOf(b.value) != Kind::kMap || b.value.size() == 0) {
      Error(
          b.mark(),
          "'bind' of " + f.what + ": tool '" + b.name + "' needs a mapping of parameters to values",
          "bind: {" + b.name + ": {PARAMETER: \"{{inputs.NAME}}\"}}");
      continue;
    }
    json values = json::object();
    std::set<std::string> given;
    ParseArgumentEntries(b.value, node_id, spec_.FindTool(b.name), true, &values, &given);
    agent->bind[b.name] = std::move(values);
  }
}

void Validator::ParseToolArguments(const Fields& f, const std::string& node_id,
                                   const WorkflowTool* tool, ToolNode* config) {
  YAML::Node args;
  const bool has_args = Map(f, "arguments", &args, false);
  if (!has_args && f.Find("arguments")) return;  // wrong type, reported
  std::vector<std::string> required;
  if (tool) {
    const json& schema = tool->spec().parameters;
    if (schema.contains("required") && schema["required"].is_array()) {
      for (const json& r : schema["required"]) {
        if (r.is_string()) required.push_back(r.get<std::string>());
      }
    }
  }
  std::set<std::string> given;
  if (has_args) ParseArgumentEntries(args, node_id, tool, false, &config->arguments, &given);
  for (const std::string& r : required) {
    if (!given.count(r)) {
      const YAML::Mark mark = has_args ? f.Find("arguments")->key.Mark() : f.mark;
      Error(mark,
            f.what + " does not pass required argument '" + r + "' of tool '" + tool->name + "'",
            "add " + r + ": ... under arguments");
    }
  }
}

bool Validator::ParseCondition(const Entry& e, const std::string& where, Condition* out) {
  if (KindOf(e.value) != Kind::kMap) {
    Error(e.mark(), "'when' of " + where + " must be a mapping, got " + KindName(KindOf(e.value)),
          "when: {path: state.category, equals: billing}");
    return false;
  }
  std::vector<std::string> known = {"path"};
  known.insert(known.end(), kConditionOps.begin(), kConditionOps.end());
  Fields f = ReadFields(e.value, "the condition of " + where, known);
  bool ok = true;
  std::string path;
  if (String(f, "path", &path, true)) {
    ValuePath(*f.Find("path"), path, &out->path);
  } else {
    ok = false;
  }
  const Entry* op = nullptr;
  for (size_t i = 0; i < kConditionOps.size(); ++i) {
    const Entry* candidate = f.Find(kConditionOps[i]);
    if (!candidate) continue;
    if (op) {
      const Entry* later = candidate->key.Mark().pos > op->key.Mark().pos ? candidate : op;
      Error(later->key.Mark(),
            "the condition of " + where + " has more than one test ('" + op->name + "' and '" +
                candidate->name + "')",
            "use one test per route; add routes for more");
      return false;
    }
    op = candidate;
    out->op = static_cast<Condition::Op>(i);
  }
  if (!op) {
    Error(f.mark, "the condition of " + where + " has no test",
          "add one of " + JoinNames(kConditionOps));
    return false;
  }
  const Kind k = KindOf(op->value);
  if (out->op == Condition::Op::kIn && k != Kind::kSeq) return TypeError(f, *op, "a list");
  if (out->op == Condition::Op::kExists && k != Kind::kBool) {
    return TypeError(f, *op, "true or false");
  }
  if ((out->op == Condition::Op::kGreaterThan || out->op == Condition::Op::kLessThan) &&
      k != Kind::kInt && k != Kind::kFloat) {
    return TypeError(f, *op, KindName(Kind::kFloat));
  }
  out->value = ToJson(op->value, "", nullptr);
  return ok;
}

void Validator::ParseEdges(const Entry& e) {
  if (KindOf(e.value) != Kind::kSeq) {
    Error(e.mark(),
          "'edges' must be a list of {from, to}, got " + std::string(KindName(KindOf(e.value))),
          "e.g. edges: [{from: a, to: b}]");
    return;
  }
  std::map<std::string, YAML::Mark> first_edge;  // from -> its first edge
  for (const YAML::Node& item : e.value) {
    if (KindOf(item) != Kind::kMap) {
      Error(item.Mark(), "an edge must be a mapping {from: ..., to: ...}, got " +
                             std::string(KindName(KindOf(item))));
      continue;
    }
    Fields f = ReadFields(item, "an edge", {"from", "to"});
    Edge edge;
    const bool has_from = String(f, "from", &edge.from, true);
    const bool has_to = String(f, "to", &edge.to, true);
    if (!has_from || !has_to) continue;
    node_refs_.push_back({edge.from, f.Find("from")->mark(), "edge 'from'"});
    node_refs_.push_back({edge.to, f.Find("to")->mark(), "edge 'to'"});
    successors_.emplace(edge.from, edge.to);
    const NodeSpec* from = spec_.FindNode(edge.from);
    if (from && from->type == NodeType::kRouter) {
      Error(f.Find("from")->mark(), "router '" + edge.from + "' has an outgoing edge",
            "routers choose their next node with routes and default; remove the edge");
      continue;
    }
    auto [it, inserted] = first_edge.emplace(edge.from, f.Find("from")->mark());
    if (!inserted) {
      Error(f.Find("from")->mark(), "node '" + edge.from + "' has more than one outgoing edge",
            "the first is at line " + std::to_string(it->second.line + 1) +
                "; use a router to choose between next nodes");
      continue;
    }
    spec_.edges.push_back(std::move(edge));
  }
}

// ---- cross checks

void Validator::CrossCheck() {
  std::vector<std::string> node_ids;
  for (const auto& [id, mark] : node_marks_) node_ids.push_back(id);

  for (const PendingNodeRef& r : node_refs_) {
    if (node_marks_.count(r.id)) continue;
    std::string hint = DidYouMean(r.id, node_ids);
    if (hint.empty() && !node_ids.empty()) hint = "nodes: " + JoinNames(node_ids);
    Error(r.mark, r.context + " names unknown node '" + r.id + "'", hint);
  }

  // A map whose node is misspelled leaves its real body looking like an ordinary node;
  // the misspelling is the one error worth reporting then.
  bool dangling_body = false;
  for (const auto& [body, mark] : map_bodies_) dangling_body |= !node_marks_.count(body);

  // Map bodies run alone, once per item.
  for (const auto& [body, mark] : map_bodies_) {
    const NodeSpec* n = spec_.FindNode(body);
    if (n && (n->type == NodeType::kRouter || n->type == NodeType::kMap ||
              n->type == NodeType::kHuman)) {
      Error(mark,
            "map node '" + map_of_body_[body] + "' runs " + NodeTypeName(n->type) + " node '" +
                body + "' per item",
            "a map runs an agent, llm, tool or retrieve node per item");
    }
  }
  for (const auto& [id, mark] : output_missing_) {
    // A body's results go to the map's output.
    if (map_bodies_.count(id) || dangling_body) continue;
    const NodeSpec* n = spec_.FindNode(id);
    Error(mark,
          "missing required field 'output' in " + std::string(n ? NodeTypeName(n->type) : "") +
              " node '" + id + "'",
          "output: the state key that receives the result");
  }

  // References to inputs, state keys and map items.
  std::vector<std::string> input_names;
  for (const InputSpec& i : spec_.inputs) input_names.push_back(i.name);
  std::set<std::string> keys = written_keys_;
  for (const StateKeySpec& s : spec_.state) keys.insert(s.key);
  std::vector<std::string> key_list(keys.begin(), keys.end());
  for (const PendingRef& r : refs_) {
    const std::string shown = "{{" + r.ref.text + "}}";
    if (r.ref.root == "inputs") {
      const std::string& name = r.ref.path[0];
      if (std::find(input_names.begin(), input_names.end(), name) == input_names.end()) {
        std::string hint = DidYouMean(name, input_names);
        if (hint.empty()) hint = "declare it under inputs:";
        Error(r.mark, "unknown input '" + name + "' in " + shown, hint);
      }
    } else if (r.ref.root == "state") {
      const std::string& key = r.ref.path[0];
      if (!keys.count(key)) {
        std::string hint = DidYouMean(key, key_list);
        if (hint.empty()) hint = "declare it under state:, or write it with a node's output";
        Error(r.mark, "unknown state key '" + key + "' in " + shown, hint);
      }
    } else if (!map_bodies_.count(r.node_id) && !dangling_body) {  // item, index
      Error(r.mark, shown + " is only set in a node that a map runs per item",
            r.node_id.empty() ? "" : "no map node has node: " + r.node_id);
    }
  }

  // Every state key the executor will see: declared ones, then the ones only nodes write.
  for (const std::string& key : written_keys_) {
    if (spec_.FindStateKey(key)) continue;
    StateKeySpec s;
    s.key = key;
    s.declared = false;
    spec_.state.push_back(std::move(s));
  }

  // Reachability from start through edges, routes and map bodies. A broken node (unknown
  // type) may have led anywhere: then nothing is reported as unreachable.
  if (spec_.nodes.empty() || !node_marks_.count(spec_.start)) return;
  std::set<std::string> seen = {spec_.start};
  std::deque<std::string> queue = {spec_.start};
  while (!queue.empty()) {
    const std::string id = queue.front();
    queue.pop_front();
    if (broken_nodes_.count(id)) return;
    auto [begin, end] = successors_.equal_range(id);
    for (auto it = begin; it != end; ++it) {
      if (seen.insert(it->second).second) queue.push_back(it->second);
    }
  }
  for (const NodeSpec& n : spec_.nodes) {
    if (seen.count(n.id)) continue;
    Error(node_marks_[n.id],
          "node '" + n.id + "' is not reachable from the start node '" + spec_.start + "'",
          "add an edge, route or map that leads to it, or remove it");
  }
}

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

std::vector<SchemaProblem> CheckSchemaStructure(const json& schema) {
  std::vector<SchemaProblem> out;
  CheckSchemaAt(schema, "", true, &out);
  return out;
}

WorkflowValidation ValidateWorkflow(const std::string& yaml_text, const std::string& path,
                                    const WorkflowOptions& options) {
  Validator v(path, options.base_dir.empty() ? DirOf(path) : options.base_dir, options);
  v.Run(yaml_text);
  return v.Finish();
}

WorkflowValidation ValidateWorkflowFile(const std::string& path, const WorkflowOptions& options) {
  StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    WorkflowValidation v;
    Diagnostic d;
    d.file = path;
    d.message = text.status().message();
    v.diagnostics.push_back(std::move(d));
    return v;
  }
  return ValidateWorkflow(*text, path, options);
}

namespace {
StatusOr<WorkflowSpec> ToStatusOr(WorkflowValidation v) {
  if (v.spec) return std::move(*v.spec);
  std::string message;
  for (const Diagnostic& d : v.diagnostics) message += (message.empty() ? "" : "\n") + d.ToString();
  return InvalidArgument(message);
}
}  // namespace

StatusOr<WorkflowSpec> ParseWorkflow(const std::string& yaml_text, const std::string& path,
                                     const WorkflowOptions& options) {
  return ToStatusOr(ValidateWorkflow(yaml_text, path, options));
}

StatusOr<WorkflowSpec> LoadWorkflowFile(const std::string& path, const WorkflowOptions& options) {
  return ToStatusOr(ValidateWorkflowFile(path, options));
}

Status RebaseHttpTools(WorkflowSpec* spec, const std::string& base_url) {
  auto origin_end = [](const std::string& url) -> size_t {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos) return std::string::npos;
    const size_t path = url.find('/', scheme + 3);
    return path == std::string::npos ? url.size() : path;
  };
  if (origin_end(base_url) != base_url.size() || base_url.find("://") == std::string::npos) {
    return InvalidArgument("'" + base_url +
                           "' is not a base URL of the form http://HOST:PORT (no path)");
  }
  for (WorkflowTool& tool : spec->tools) {
    if (tool.kind != ToolKind::kHttp) continue;
    std::string& url = tool.http.url;
    const size_t end = origin_end(url);
    if (end == std::string::npos) continue;
    url = base_url + url.substr(end);
  }
  return Status::Ok();
}

}  // namespace qs::workflows
