#include "runtime/json_schema/schema.h"

#include <re2/re2.h>

#include <map>
#include <unordered_map>
#include <utility>

#include "runtime/json_schema/ecma_regex.h"
#include "runtime/json_schema/numbers.h"
#include "runtime/json_schema/uri.h"

namespace qs::json_schema {

namespace {

using OrderedJson = nlohmann::ordered_json;

// The base URI of a document without "$id"; relative "$id"s and "$ref"s resolve against it.
constexpr char kDefaultBaseUri[] = "https://quicksilver.invalid/schema.json";

// Compilation recurses once per nested subschema (and per "$ref" hop): deeper schemas are
// rejected rather than risking the stack.
constexpr int kMaxDepth = 512;

std::string DescribeValue(const OrderedJson& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  std::string text = v.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  return text.size() > 40 ? text.substr(0, 37) + "..." : text;
}

std::string UnescapePointerToken(std::string_view token, bool* ok) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] != '~') {
      out += token[i];
      continue;
    }
    if (i + 1 < token.size() && token[i + 1] == '0') {
      out += '~';
    } else if (i + 1 < token.size() && token[i + 1] == '1') {
      out += '/';
    } else {
      *ok = false;
      return {};
    }
    ++i;
  }
  return out;
}

// RFC 6901 evaluation; nullptr when the pointer names nothing.
const OrderedJson* LookUpPointer(const OrderedJson& doc, std::string_view pointer) {
  const OrderedJson* current = &doc;
  if (pointer.empty()) return current;
  if (pointer[0] != '/') return nullptr;
  size_t pos = 1;
  while (true) {
    size_t slash = pointer.find('/', pos);
    bool ok = true;
    std::string token = UnescapePointerToken(
        pointer.substr(pos, slash == std::string_view::npos ? slash : slash - pos), &ok);
    if (!ok) return nullptr;
    if (current->is_object()) {
      auto it = current->find(token);
      if (it == current->end()) return nullptr;
      current = &*it;
    } else if (current->is_array()) {
      if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0')) {
        return nullptr;
      }
      size_t index = 0;
      for (char c : token) {
        if (c < '0' || c > '9') return nullptr;
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      if (index >= current->size()) return nullptr;
      current = &(*current)[index];
    } else {
      return nullptr;
    }
    if (slash == std::string_view::npos) return current;
    pos = slash + 1;
  }
}

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int value = 0;
    for (size_t k = i + 1; k <= i + 2; ++k) {
      char c = s[k];
      int digit = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                           : -1;
      if (digit < 0) return std::nullopt;
      value = value * 16 + digit;
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::optional<Type> TypeFromName(std::string_view name) {
  if (name == "null") return Type::kNull;
  if (name == "boolean") return Type::kBoolean;
  if (name == "integer") return Type::kInteger;
  if (name == "number") return Type::kNumber;
  if (name == "string") return Type::kString;
  if (name == "array") return Type::kArray;
  if (name == "object") return Type::kObject;
  return std::nullopt;
}

// Keywords this library does not implement and that change which instances are valid.
bool IsUnsupportedKeyword(const std::string& key, const OrderedJson& schema) {
  static const std::set<std::string> kUnsupported = {
      "not",
      "uniqueItems",
      "contains",
      "dependencies",
      "dependentSchemas",
      "dependentRequired",
      "propertyNames",
      "minProperties",
      "maxProperties",
      "unevaluatedProperties",
      "unevaluatedItems",
      "$recursiveRef",
      "$dynamicRef",
  };
  // Spellings that constrain nothing stay harmless.
  if (key == "uniqueItems" && schema[key] == false) return false;
  if (key == "minProperties" && schema[key] == 0) return false;
  // "if" only matters with "then" or "else"; minContains / maxContains only with
  // "contains" (which is reported itself).
  if (key == "if") return schema.contains("then") || schema.contains("else");
  return kUnsupported.count(key) > 0;
}

// Calls fn(subschema, pointer) for every subschema position of a schema object, whether or
// not this library applies that keyword (the "$id" index must see them all).
template <typename Fn>
void ForEachSubschema(const OrderedJson& schema, const std::string& pointer, Fn fn) {
  static const char* const kMaps[] = {"properties",  "patternProperties", "$defs",
                                      "definitions", "dependentSchemas",  "dependencies"};
  static const char* const kSingles[] = {"additionalProperties",
                                         "additionalItems",
                                         "items",
                                         "not",
                                         "if",
                                         "then",
                                         "else",
                                         "contains",
                                         "propertyNames",
                                         "unevaluatedItems",
                                         "unevaluatedProperties",
                                         "contentSchema"};
  static const char* const kArrays[] = {"allOf", "anyOf", "oneOf", "prefixItems", "items"};
  for (const char* key : kMaps) {
    auto it = schema.find(key);
    if (it == schema.end() || !it->is_object()) continue;
    for (const auto& item : it->items()) {
      fn(item.value(), pointer + "/" + key + "/" + EscapePointerToken(item.key()));
    }
  }
  for (const char* key : kSingles) {
    auto it = schema.find(key);
    if (it != schema.end() && (it->is_object() || it->is_boolean())) {
      fn(*it, pointer + "/" + key);
    }
  }
  for (const char* key : kArrays) {
    auto it = schema.find(key);
    if (it == schema.end() || !it->is_array()) continue;
    for (size_t i = 0; i < it->size(); ++i) {
      fn((*it)[i], pointer + "/" + key + "/" + std::to_string(i));
    }
  }
}

}  // namespace

// Compiles one document into a Schema. Single use: construct, Run().
class Compiler {
 public:
  Compiler(const OrderedJson& document, const CompileOptions& options)
      : doc_(document), options_(options) {}

  StatusOr<Schema> Run() {
    schema_.draft_ = options_.draft;
    if (doc_.is_object() && doc_.contains("$schema")) {
      const OrderedJson& uri = doc_["$schema"];
      std::optional<Draft> draft =
          uri.is_string() ? DraftFromSchemaUri(uri.get<std::string>()) : std::nullopt;
      if (draft) {
        schema_.draft_ = *draft;
      } else {
        QS_RETURN_IF_ERROR(UnsupportedKeyword("$schema", ""));
      }
    }
    draft_ = schema_.draft_;
    Index(doc_, "", kDefaultBaseUri, 0);
    QS_ASSIGN_OR_RETURN(const Node* root, Sub(doc_, ""));
    schema_.root_ = root;
    QS_RETURN_IF_ERROR(CheckForInPlaceCycles());
    return std::move(schema_);
  }

 private:
  bool Before2019() const { return draft_ <= Draft::kDraft7; }

  static Status Malformed(const std::string& keyword, const std::string& pointer,
                          const std::string& what) {
    return InvalidArgument("\"" + keyword + "\" at " + DisplayPointer(pointer) + ": " + what);
  }

  // An unsupported keyword fails compilation unless the options ignore it.
  Status UnsupportedKeyword(const std::string& keyword, const std::string& pointer) {
    if (options_.ignore_all_unsupported || options_.ignore_unsupported.count(keyword) > 0) {
      schema_.ignored_.push_back({keyword, pointer});
      return Status::Ok();
    }
    return Unsupported("unsupported: " + keyword + " at " + DisplayPointer(pointer));
  }

  // --- "$id" / "$anchor" index (a pass over the whole document before compiling) ---

  void Index(const OrderedJson& schema, const std::string& pointer, const std::string& base,
             int depth) {
    // Deeper subschemas fail to compile anyway (kMaxDepth).
    if (!schema.is_object() || depth > kMaxDepth) return;
    std::string own_base = base;
    // Before 2019-09 the siblings of "$ref" (including "$id") are not looked at.
    const bool ref_only = Before2019() && schema.contains("$ref");
    const char* id_key = draft_ == Draft::kDraft4 ? "id" : "$id";
    auto id = schema.find(id_key);
    if (!ref_only && id != schema.end() && id->is_string()) {
      std::optional<Uri> parsed_base = ParseUriReference(base);
      std::optional<Uri> reference = ParseUriReference(id->get<std::string>());
      if (parsed_base && reference) {
        Uri resolved = ResolveReference(*parsed_base, *reference);
        std::string fragment = resolved.fragment.value_or("");
        resolved.fragment.reset();
        own_base = resolved.ToString();
        const bool fragment_only = !reference->scheme && !reference->authority &&
                                   reference->path.empty() && !reference->query;
        if (!fragment_only) resources_.emplace(own_base, pointer);
        // Before 2019-09 "$id": "#name" names a location like "$anchor" does.
        if (!fragment.empty() && Before2019()) anchors_[own_base + "#" + fragment] = pointer;
      }
    }
    if (!ref_only && !Before2019()) {
      // "$dynamicAnchor" is also a plain anchor for "$ref" ("$dynamicRef" is unsupported).
      for (const char* key : {"$anchor", "$dynamicAnchor"}) {
        auto anchor = schema.find(key);
        if (anchor != schema.end() && anchor->is_string()) {
          anchors_[own_base + "#" + anchor->get<std::string>()] = pointer;
        }
      }
    }
    base_uri_[pointer] = own_base;
    if (pointer.empty()) resources_.emplace(own_base, pointer);
    if (ref_only) return;
    ForEachSubschema(schema, pointer, [&](const OrderedJson& sub, const std::string& sub_pointer) {
      Index(sub, sub_pointer, own_base, depth + 1);
    });
  }

  // The base URI in effect at a pointer: its own, or its nearest indexed ancestor's.
  std::string BaseUriAt(std::string pointer) const {
    while (true) {
      auto it = base_uri_.find(pointer);
      if (it != base_uri_.end()) return it->second;
      size_t slash = pointer.rfind('/');
      pointer = slash == std::string::npos ? "" : pointer.substr(0, slash);
    }
  }

  // Resolves a "$ref" value to the JSON pointer of its target in this document; nullopt
  // for a reference to another document.
  StatusOr<std::optional<std::string>> ResolveRef(const std::string& ref,
                                                  const std::string& pointer) {
    size_t hash = ref.find('#');
    std::string fragment = hash == std::string::npos ? "" : ref.substr(hash + 1);
    std::optional<Uri> reference = ParseUriReference(ref.substr(0, hash));
    std::optional<Uri> base = ParseUriReference(BaseUriAt(pointer));
    if (!reference || !base) return Malformed("$ref", pointer, "invalid URI \"" + ref + "\"");
    Uri target = ResolveReference(*base, *reference);
    target.fragment.reset();
    const std::string resource_uri = target.ToString();
    auto resource = resources_.find(resource_uri);
    if (resource == resources_.end()) return std::optional<std::string>();
    std::optional<std::string> decoded = PercentDecode(fragment);
    if (!decoded) return Malformed("$ref", pointer, "invalid percent-encoding in \"" + ref + "\"");
    if (decoded->empty()) return std::optional<std::string>(resource->second);
    if ((*decoded)[0] == '/') return std::optional<std::string>(resource->second + *decoded);
    auto anchor = anchors_.find(resource_uri + "#" + *decoded);
    if (anchor == anchors_.end()) {
      return Malformed("$ref", pointer, "\"" + ref + "\" points to nothing in the schema");
    }
    return std::optional<std::string>(anchor->second);
  }

  // --- compilation ---

  // The node for the schema at `pointer`, compiled on first use. A node is registered before
  // its keywords are compiled, so references back to it (recursion) find it.
  StatusOr<const Node*> Sub(const OrderedJson& value, const std::string& pointer) {
    auto it = compiled_.find(pointer);
    if (it != compiled_.end()) return static_cast<const Node*>(it->second);
    if (depth_ >= kMaxDepth) {
      return InvalidArgument("schema at " + DisplayPointer(pointer) + ": nested deeper than " +
                             std::to_string(kMaxDepth) + " levels");
    }
    schema_.nodes_.push_back(std::make_unique<Node>());
    Node* node = schema_.nodes_.back().get();
    node->pointer = pointer;
    compiled_[pointer] = node;
    ++depth_;
    Status status = Fill(node, value, pointer);
    --depth_;
    QS_RETURN_IF_ERROR(status);
    return static_cast<const Node*>(node);
  }

  Status Fill(Node* node, const OrderedJson& schema, const std::string& pointer) {
    if (schema.is_boolean()) {
      node->is_false = !schema.get<bool>();
      return Status::Ok();
    }
    if (!schema.is_object()) {
      return InvalidArgument("schema at " + DisplayPointer(pointer) +
                             ": must be an object or a boolean, got " + DescribeValue(schema));
    }
    if (!pointer.empty() && !Before2019() && schema.contains("$schema")) {
      const OrderedJson& uri = schema["$schema"];
      std::optional<Draft> draft =
          uri.is_string() ? DraftFromSchemaUri(uri.get<std::string>()) : std::nullopt;
      if (draft != draft_) QS_RETURN_IF_ERROR(UnsupportedKeyword("$schema", pointer));
    }
    if (Before2019() && schema.contains("$ref")) {
      return ApplyRef(node, schema["$ref"], pointer);  // siblings are ignored
    }
    for (const auto& item : schema.items()) {
      const std::string& key = item.key();
      const OrderedJson& value = item.value();
      if (key == "type") {
        QS_RETURN_IF_ERROR(ApplyType(node, value, pointer));
      } else if (key == "nullable") {
        if (!value.is_boolean()) return Malformed(key, pointer, "must be a boolean");
      } else if (key == "enum") {
        if (!value.is_array()) return Malformed(key, pointer, "must be an array");
        node->enum_values.emplace();
        for (const OrderedJson& v : value) node->enum_values->push_back(nlohmann::json(v));
      } else if (key == "const") {
        node->const_value = nlohmann::json(value);
      } else if (key == "minLength") {
        QS_RETURN_IF_ERROR(ReadCount(value, key, pointer, &node->string.min_length));
      } else if (key == "maxLength") {
        QS_RETURN_IF_ERROR(ReadOptionalCount(value, key, pointer, &node->string.max_length));
      } else if (key == "pattern") {
        QS_RETURN_IF_ERROR(ApplyPattern(node, value, pointer));
      } else if (key == "format") {
        QS_RETURN_IF_ERROR(ApplyFormat(node, value, pointer));
      } else if (key == "multipleOf") {
        if (!value.is_number() || CompareNumbers(value, nlohmann::json(0)) <= 0) {
          return Malformed(key, pointer, "must be a number greater than 0");
        }
        node->number.multiple_of = nlohmann::json(value);
      } else if (key == "required") {
        QS_RETURN_IF_ERROR(ApplyRequired(node, value, pointer));
      } else if (key == "properties") {
        QS_RETURN_IF_ERROR(ApplyProperties(node, value, pointer));
      } else if (key == "patternProperties") {
        QS_RETURN_IF_ERROR(ApplyPatternProperties(node, value, pointer));
      } else if (key == "additionalProperties") {
        QS_ASSIGN_OR_RETURN(node->object.additional_properties,
                            Sub(value, pointer + "/additionalProperties"));
      } else if (key == "minItems") {
        QS_RETURN_IF_ERROR(ReadCount(value, key, pointer, &node->array.min_items));
      } else if (key == "maxItems") {
        QS_RETURN_IF_ERROR(ReadOptionalCount(value, key, pointer, &node->array.max_items));
      } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
        std::vector<const Node*>* list = key == "allOf"   ? &node->all_of
                                         : key == "anyOf" ? &node->any_of
                                                          : &node->one_of;
        QS_RETURN_IF_ERROR(ApplySchemaArray(value, key, pointer, list));
      } else if (key == "$ref") {
        QS_RETURN_IF_ERROR(ApplyRef(node, value, pointer));
      } else if (IsUnsupportedKeyword(key, schema)) {
        QS_RETURN_IF_ERROR(UnsupportedKeyword(key, pointer));
      }
      // Everything else is an annotation, a location ("$defs", "$id"), handled below
      // (numeric bounds, items), or unknown to JSON Schema: ignored.
    }
    auto nullable = schema.find("nullable");
    if (nullable != schema.end() && *nullable == true && schema.contains("type")) {
      node->types.Add(Type::kNull);
    }
    QS_RETURN_IF_ERROR(ApplyNumberBounds(node, schema, pointer));
    return ApplyItems(node, schema, pointer);
  }

  Status ApplyType(Node* node, const OrderedJson& value, const std::string& pointer) {
    node->types = TypeSet::None();
    std::vector<const OrderedJson*> names;
    if (value.is_string()) {
      names.push_back(&value);
    } else if (value.is_array()) {
      for (const OrderedJson& name : value) names.push_back(&name);
    } else {
      return Malformed("type", pointer, "must be a type name or an array of type names");
    }
    for (const OrderedJson* name : names) {
      std::optional<Type> type =
          name->is_string() ? TypeFromName(name->get<std::string>()) : std::nullopt;
      if (!type) {
        return Malformed("type", pointer,
                         "unknown type " + DescribeValue(*name) +
                             " (expected null, boolean, integer, number, string, array or object)");
      }
      node->types.Add(*type);
    }
    return Status::Ok();
  }

  // A non-negative integer (2.0 counts, as draft 6+ allows).
  static Status ReadCount(const OrderedJson& value, const std::string& key,
                          const std::string& pointer, uint64_t* out) {
    if (!value.is_number() || !IsIntegerNumber(value, true) ||
        CompareNumbers(value, nlohmann::json(0)) < 0) {
      return Malformed(key, pointer, "must be a non-negative integer, got " + DescribeValue(value));
    }
    if (value.is_number_float()) {
      double d = value.get<double>();
      *out = d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(d);
    } else {
      *out = value.get<uint64_t>();
    }
    return Status::Ok();
  }

  static Status ReadOptionalCount(const OrderedJson& value, const std::string& key,
                                  const std::string& pointer, std::optional<uint64_t>* out) {
    uint64_t count = 0;
    QS_RETURN_IF_ERROR(ReadCount(value, key, pointer, &count));
    *out = count;
    return Status::Ok();
  }

  // Compiles an ECMA-262 pattern; nullopt (with OK) when it is unsupported but ignored.
  StatusOr<std::optional<Pattern>> CompilePattern(const OrderedJson& value,
                                                  const std::string& keyword,
                                                  const std::string& pointer) {
    if (!value.is_string()) return Malformed(keyword, pointer, "must be a string");
    Pattern pattern;
    pattern.source = value.get<std::string>();
    StatusOr<std::string> translated = TranslateEcmaRegex(pattern.source);
    if (!translated.ok()) {
      if (translated.status().code() == StatusCode::kUnsupported) {
        QS_RETURN_IF_ERROR(UnsupportedKeyword(keyword, pointer));
        return std::optional<Pattern>();
      }
      return Malformed(
          keyword, pointer,
          "invalid pattern \"" + pattern.source + "\": " + translated.status().message());
    }
    pattern.re2_source = *translated;
    RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_shared<const RE2>(pattern.re2_source, options);
    if (!regex->ok()) {
      if (regex->error_code() == RE2::ErrorRepeatSize) {  // beyond RE2's limit of 1000
        QS_RETURN_IF_ERROR(UnsupportedKeyword(keyword, pointer));
        return std::optional<Pattern>();
      }
      return Malformed(keyword, pointer,
                       "invalid pattern \"" + pattern.source + "\": " + regex->error());
    }
    pattern.regex = std::move(regex);
    return std::optional<Pattern>(std::move(pattern));
  }

  Status ApplyPattern(Node* node, const OrderedJson& value, const std::string& pointer) {
    QS_ASSIGN_OR_RETURN(node->string.pattern, CompilePattern(value, "pattern", pointer));
    return Status::Ok();
  }

  Status ApplyFormat(Node* node, const OrderedJson& value, const std::string& pointer) {
    if (!value.is_string()) return Malformed("format", pointer, "must be a string");
    if (!options_.assert_format) return Status::Ok();
    node->string.format = FormatFromName(value.get<std::string>());
    if (!node->string.format) return UnsupportedKeyword("format", pointer);
    return Status::Ok();
  }

  Status ApplyRequired(Node* node, const OrderedJson& value, const std::string& pointer) {
    if (!value.is_array()) return Malformed("required", pointer, "must be an array of strings");
    std::set<std::string> seen;
    for (const OrderedJson& name : value) {
      if (!name.is_string()) return Malformed("required", pointer, "must be an array of strings");
      if (seen.insert(name.get<std::string>()).second) {
        node->object.required.push_back(name.get<std::string>());
      }
    }
    return Status::Ok();
  }

  Status ApplyProperties(Node* node, const OrderedJson& value, const std::string& pointer) {
    if (!value.is_object()) return Malformed("properties", pointer, "must be an object");
    for (const auto& item : value.items()) {
      PropertySchema property;
      property.name = item.key();
      QS_ASSIGN_OR_RETURN(property.schema, Sub(item.value(), pointer + "/properties/" +
                                                                 EscapePointerToken(item.key())));
      node->object.properties.push_back(std::move(property));
    }
    return Status::Ok();
  }

  Status ApplyPatternProperties(Node* node, const OrderedJson& value, const std::string& pointer) {
    if (!value.is_object()) return Malformed("patternProperties", pointer, "must be an object");
    for (const auto& item : value.items()) {
      QS_ASSIGN_OR_RETURN(std::optional<Pattern> pattern,
                          CompilePattern(OrderedJson(item.key()), "patternProperties", pointer));
      if (!pattern) continue;  // unsupported and ignored: matches no name
      PatternPropertySchema entry;
      entry.pattern = std::move(*pattern);
      QS_ASSIGN_OR_RETURN(entry.schema, Sub(item.value(), pointer + "/patternProperties/" +
                                                              EscapePointerToken(item.key())));
      node->object.pattern_properties.push_back(std::move(entry));
    }
    return Status::Ok();
  }

  Status ApplySchemaArray(const OrderedJson& value, const std::string& key,
                          const std::string& pointer, std::vector<const Node*>* out) {
    if (!value.is_array() || value.empty()) {
      return Malformed(key, pointer, "must be a non-empty array of schemas");
    }
    for (size_t i = 0; i < value.size(); ++i) {
      QS_ASSIGN_OR_RETURN(const Node* sub,
                          Sub(value[i], pointer + "/" + key + "/" + std::to_string(i)));
      out->push_back(sub);
    }
    return Status::Ok();
  }

  // minimum / maximum / exclusiveMinimum / exclusiveMaximum, in both forms: a number (draft
  // 6+) or a boolean that makes minimum / maximum exclusive (draft 4). Either form is
  // accepted in every draft; the two never conflict.
  Status ApplyNumberBounds(Node* node, const OrderedJson& schema, const std::string& pointer) {
    for (const char* key : {"minimum", "maximum"}) {
      auto it = schema.find(key);
      if (it == schema.end()) continue;
      if (!it->is_number()) return Malformed(key, pointer, "must be a number");
      const bool is_min = std::string_view(key) == "minimum";
      const char* exclusive_key = is_min ? "exclusiveMinimum" : "exclusiveMaximum";
      auto exclusive = schema.find(exclusive_key);
      const bool exclusive_flag = exclusive != schema.end() && *exclusive == true;
      std::optional<nlohmann::json>& bound =
          is_min ? (exclusive_flag ? node->number.exclusive_minimum : node->number.minimum)
                 : (exclusive_flag ? node->number.exclusive_maximum : node->number.maximum);
      bound = nlohmann::json(*it);
    }
    for (const char* key : {"exclusiveMinimum", "exclusiveMaximum"}) {
      auto it = schema.find(key);
      if (it == schema.end() || it->is_boolean()) continue;
      if (!it->is_number()) return Malformed(key, pointer, "must be a number or a boolean");
      std::optional<nlohmann::json>& bound = std::string_view(key) == "exclusiveMinimum"
                                                 ? node->number.exclusive_minimum
                                                 : node->number.exclusive_maximum;
      bound = nlohmann::json(*it);
    }
    return Status::Ok();
  }

  Status ApplyItems(Node* node, const OrderedJson& schema, const std::string& pointer) {
    auto items = schema.find("items");
    if (draft_ == Draft::kDraft2020_12) {
      auto prefix = schema.find("prefixItems");
      if (prefix != schema.end()) {
        QS_RETURN_IF_ERROR(
            ApplySchemaArray(*prefix, "prefixItems", pointer, &node->array.prefix_items));
      }
      if (items != schema.end()) {
        if (items->is_array()) {
          return Malformed("items", pointer,
                           "must be a schema in 2020-12 (tuples use \"prefixItems\")");
        }
        QS_ASSIGN_OR_RETURN(node->array.items, Sub(*items, pointer + "/items"));
      }
      return Status::Ok();
    }
    if (items == schema.end()) return Status::Ok();
    if (!items->is_array()) {
      QS_ASSIGN_OR_RETURN(node->array.items, Sub(*items, pointer + "/items"));
      return Status::Ok();
    }
    for (size_t i = 0; i < items->size(); ++i) {
      QS_ASSIGN_OR_RETURN(const Node* sub,
                          Sub((*items)[i], pointer + "/items/" + std::to_string(i)));
      node->array.prefix_items.push_back(sub);
    }
    auto additional = schema.find("additionalItems");
    if (additional != schema.end()) {
      QS_ASSIGN_OR_RETURN(node->array.items, Sub(*additional, pointer + "/additionalItems"));
    }
    return Status::Ok();
  }

  Status ApplyRef(Node* node, const OrderedJson& value, const std::string& pointer) {
    if (!value.is_string()) return Malformed("$ref", pointer, "must be a string");
    const std::string ref = value.get<std::string>();
    QS_ASSIGN_OR_RETURN(std::optional<std::string> target, ResolveRef(ref, pointer));
    if (!target) return UnsupportedKeyword("$ref", pointer);  // another document
    const OrderedJson* target_value = LookUpPointer(doc_, *target);
    if (target_value == nullptr) {
      return Malformed("$ref", pointer, "\"" + ref + "\" points to nothing in the schema");
    }
    QS_ASSIGN_OR_RETURN(node->ref, Sub(*target_value, *target));
    return Status::Ok();
  }

  // A cycle through "$ref" / allOf / anyOf / oneOf alone would make validation (and a
  // grammar) recurse forever on the same value.
  Status CheckForInPlaceCycles() const {
    enum class Mark { kActive, kDone };
    std::unordered_map<const Node*, Mark> marks;
    // Iterative depth-first search: (node, index of the next edge to follow).
    for (const auto& start : schema_.nodes_) {
      if (marks.count(start.get())) continue;
      std::vector<std::pair<const Node*, size_t>> stack = {{start.get(), 0}};
      marks[start.get()] = Mark::kActive;
      while (!stack.empty()) {
        const Node* node = stack.back().first;
        const size_t next = stack.back().second++;
        const std::vector<const Node*> edges = InPlaceEdges(*node);
        if (next == edges.size()) {
          marks[node] = Mark::kDone;
          stack.pop_back();
          continue;
        }
        const Node* child = edges[next];
        auto mark = marks.find(child);
        if (mark == marks.end()) {
          marks[child] = Mark::kActive;
          stack.push_back({child, 0});
        } else if (mark->second == Mark::kActive) {
          return InvalidArgument("schema at " + DisplayPointer(node->pointer) +
                                 ": refers back to itself (through $ref / allOf / anyOf / "
                                 "oneOf at " +
                                 DisplayPointer(child->pointer) +
                                 ") without descending into the instance");
        }
      }
    }
    return Status::Ok();
  }

  static std::vector<const Node*> InPlaceEdges(const Node& node) {
    std::vector<const Node*> edges;
    if (node.ref) edges.push_back(node.ref);
    edges.insert(edges.end(), node.all_of.begin(), node.all_of.end());
    edges.insert(edges.end(), node.any_of.begin(), node.any_of.end());
    edges.insert(edges.end(), node.one_of.begin(), node.one_of.end());
    return edges;
  }

  const OrderedJson& doc_;
  const CompileOptions& options_;
  Draft draft_ = Draft::kDraft2020_12;
  Schema schema_;
  int depth_ = 0;                                 // Sub() recursion
  std::map<std::string, Node*> compiled_;         // pointer -> node
  std::map<std::string, std::string> base_uri_;   // pointer -> base URI (no fragment)
  std::map<std::string, std::string> resources_;  // absolute URI -> pointer
  std::map<std::string, std::string> anchors_;    // URI "#" name -> pointer
};

const char* DraftName(Draft draft) {
  switch (draft) {
    case Draft::kDraft4:
      return "draft-04";
    case Draft::kDraft6:
      return "draft-06";
    case Draft::kDraft7:
      return "draft-07";
    case Draft::kDraft2019_09:
      return "2019-09";
    case Draft::kDraft2020_12:
      return "2020-12";
  }
  return "?";
}

std::optional<Draft> DraftFromSchemaUri(std::string_view uri) {
  if (!uri.empty() && uri.back() == '#') uri.remove_suffix(1);
  if (uri.substr(0, 8) == "https://") {
    uri.remove_prefix(8);
  } else if (uri.substr(0, 7) == "http://") {
    uri.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  if (uri == "json-schema.org/draft-04/schema") return Draft::kDraft4;
  if (uri == "json-schema.org/draft-06/schema") return Draft::kDraft6;
  if (uri == "json-schema.org/draft-07/schema") return Draft::kDraft7;
  if (uri == "json-schema.org/draft/2019-09/schema") return Draft::kDraft2019_09;
  if (uri == "json-schema.org/draft/2020-12/schema") return Draft::kDraft2020_12;
  return std::nullopt;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBoolean:
      return "boolean";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "?";
}

std::string TypeSet::Describe() const {
  std::vector<std::string> names;
  for (Type t : {Type::kString, Type::kInteger, Type::kNumber, Type::kBoolean, Type::kObject,
                 Type::kArray, Type::kNull}) {
    if (!Has(t) || (t == Type::kInteger && Has(Type::kNumber))) continue;
    names.push_back(TypeName(t));
  }
  if (names.empty()) return "nothing";
  std::string out;
  const std::string& first = names[0];
  out = (first == "integer" || first == "object" || first == "array") ? "an " : "a ";
  if (first == "null") out.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

bool Pattern::Search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *regex);
}

const PropertySchema* ObjectConstraints::FindProperty(std::string_view name) const {
  for (const PropertySchema& p : properties) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

StatusOr<Schema> Compile(const nlohmann::ordered_json& schema, const CompileOptions& options) {
  return Compiler(schema, options).Run();
}

StatusOr<Schema> Compile(const nlohmann::json& schema, const CompileOptions& options) {
  return Compile(nlohmann::ordered_json(schema), options);
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string DisplayPointer(const std::string& pointer) {
  return pointer.empty() ? "(root)" : pointer;
}

}  // namespace qs::json_schema
