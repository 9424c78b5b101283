#include "runtime/json_schema/validator.h"

#include <vector>

#include "runtime/json_schema/formats.h"
#include "runtime/json_schema/numbers.h"
#include "runtime/json_schema/utf8.h"

namespace qs::json_schema {

namespace {

// Instances nested deeper than this are rejected rather than risking the stack (the
// validator recurses once per level).
constexpr int kMaxDepth = 512;

// JSON text for messages; invalid UTF-8 (possible in a programmatically built value) is
// replaced rather than thrown on.
std::string Dump(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A short rendering of a value for messages.
std::string Show(const nlohmann::json& v) {
  if (v.is_object()) return v.empty() ? "{}" : "an object";
  if (v.is_array()) return v.empty() ? "[]" : "an array";
  std::string text = Dump(v);
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

std::string ShowList(const std::vector<nlohmann::json>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    if (i == 8) return out + "...]";
    out += Dump(values[i]);
  }
  return out + "]";
}

bool MatchesType(const TypeSet& types, const nlohmann::json& v, bool integral_floats) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
      return types.Has(Type::kNull);
    case nlohmann::json::value_t::boolean:
      return types.Has(Type::kBoolean);
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      return types.Has(Type::kNumber) ||
             (types.Has(Type::kInteger) && IsIntegerNumber(v, integral_floats));
    case nlohmann::json::value_t::string:
      return types.Has(Type::kString);
    case nlohmann::json::value_t::array:
      return types.Has(Type::kArray);
    case nlohmann::json::value_t::object:
      return types.Has(Type::kObject);
    default:
      return false;
  }
}

std::string Plural(uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

class Validator {
 public:
  explicit Validator(const Schema& schema) : integral_floats_(schema.draft() != Draft::kDraft4) {}

  // Check() for a member or item one level down.
  bool CheckChild(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    if (depth_ >= kMaxDepth) {
      return Fail(
          node, *path,
          "nested deeper than " + std::to_string(kMaxDepth) + " levels, which is not supported",
          out);
    }
    ++depth_;
    bool ok = Check(node, v, path, out);
    --depth_;
    return ok;
  }

  // True when `v` (at instance pointer *path) is valid against `node`; otherwise fills *out.
  bool Check(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    if (node.is_false) return Fail(node, *path, "no value is allowed here", out);
    if (!node.types.IsAll() && !MatchesType(node.types, v, integral_floats_)) {
      return Fail(node, *path, "expected " + node.types.Describe() + ", got " + Show(v), out);
    }
    if (node.const_value && !JsonEqual(v, *node.const_value)) {
      return Fail(node, *path, "expected " + Show(*node.const_value) + ", got " + Show(v), out);
    }
    if (node.enum_values) {
      bool found = false;
      for (const nlohmann::json& e : *node.enum_values) found = found || JsonEqual(v, e);
      if (!found) {
        return Fail(node, *path,
                    "expected one of " + ShowList(*node.enum_values) + ", got " + Show(v), out);
      }
    }
    if (v.is_string() && !CheckString(node, v, *path, out)) return false;
    if (v.is_number() && !CheckNumber(node, v, *path, out)) return false;
    if (v.is_object() && !CheckObject(node, v, path, out)) return false;
    if (v.is_array() && !CheckArray(node, v, path, out)) return false;
    if (node.ref && !Check(*node.ref, v, path, out)) return false;
    for (const Node* sub : node.all_of) {
      if (!Check(*sub, v, path, out)) return false;
    }
    if (!node.any_of.empty() && !CheckAnyOf(node, v, path, out)) return false;
    if (!node.one_of.empty() && !CheckOneOf(node, v, path, out)) return false;
    return true;
  }

 private:
  static bool Fail(const Node& node, const std::string& path, std::string message, Violation* out) {
    out->instance_pointer = path;
    out->schema_pointer = node.pointer;
    out->message = std::move(message);
    return false;
  }

  bool CheckString(const Node& node, const nlohmann::json& v, const std::string& path,
                   Violation* out) {
    const StringConstraints& s = node.string;
    const std::string& text = v.get_ref<const std::string&>();
    if (s.min_length > 0 || s.max_length) {
      uint64_t length = CountCodePoints(text);
      if (length < s.min_length) {
        return Fail(node, path,
                    "expected a string of at least " + Plural(s.min_length, "character") +
                        ", got " + Show(v),
                    out);
      }
      if (s.max_length && length > *s.max_length) {
        return Fail(node, path,
                    "expected a string of at most " + Plural(*s.max_length, "character") +
                        ", got " + Plural(length, "character"),
                    out);
      }
    }
    if (s.pattern && !s.pattern->Search(text)) {
      return Fail(node, path,
                  "expected a string matching the pattern " +
                      Dump(nlohmann::json(s.pattern->source)) + ", got " + Show(v),
                  out);
    }
    if (s.format && !MatchesFormat(*s.format, text)) {
      return Fail(node, path,
                  std::string("expected ") + FormatDescription(*s.format) + ", got " + Show(v),
                  out);
    }
    return true;
  }

  bool CheckNumber(const Node& node, const nlohmann::json& v, const std::string& path,
                   Violation* out) {
    const NumberConstraints& n = node.number;
    if (n.minimum && CompareNumbers(v, *n.minimum) < 0) {
      return Fail(node, path, "expected a number >= " + n.minimum->dump() + ", got " + Show(v),
                  out);
    }
    if (n.exclusive_minimum && CompareNumbers(v, *n.exclusive_minimum) <= 0) {
      return Fail(node, path,
                  "expected a number > " + n.exclusive_minimum->dump() + ", got " + Show(v), out);
    }
    if (n.maximum && CompareNumbers(v, *n.maximum) > 0) {
      return Fail(node, path, "expected a number <= " + n.maximum->dump() + ", got " + Show(v),
                  out);
    }
    if (n.exclusive_maximum && CompareNumbers(v, *n.exclusive_maximum) >= 0) {
      return Fail(node, path,
                  "expected a number < " + n.exclusive_maximum->dump() + ", got " + Show(v), out);
    }
    if (n.multiple_of && !IsMultipleOf(v, *n.multiple_of)) {
      return Fail(node, path,
                  "expected a multiple of " + n.multiple_of->dump() + ", got " + Show(v), out);
    }
    return true;
  }

  bool CheckObject(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    const ObjectConstraints& o = node.object;
    for (const std::string& name : o.required) {
      if (!v.contains(name)) {
        return Fail(node, *path, "missing required property " + Dump(nlohmann::json(name)), out);
      }
    }
    const size_t length = path->size();
    for (const auto& item : v.items()) {
      const std::string& key = item.key();
      path->append("/").append(EscapePointerToken(key));
      bool matched = false;
      bool ok = true;
      if (const PropertySchema* p = o.FindProperty(key)) {
        matched = true;
        ok = CheckChild(*p->schema, item.value(), path, out);
      }
      for (size_t i = 0; ok && i < o.pattern_properties.size(); ++i) {
        if (!o.pattern_properties[i].pattern.Search(key)) continue;
        matched = true;
        ok = CheckChild(*o.pattern_properties[i].schema, item.value(), path, out);
      }
      if (ok && !matched && o.additional_properties) {
        if (o.additional_properties->is_false) {
          ok = Fail(node, *path, UnexpectedPropertyMessage(o, key), out);
        } else {
          ok = CheckChild(*o.additional_properties, item.value(), path, out);
        }
      }
      path->resize(length);
      if (!ok) return false;
    }
    return true;
  }

  static std::string UnexpectedPropertyMessage(const ObjectConstraints& o, const std::string& key) {
    std::string message = "unexpected property " + Dump(nlohmann::json(key));
    if (!o.properties.empty() && o.pattern_properties.empty()) {
      message += " (allowed: ";
      for (size_t i = 0; i < o.properties.size(); ++i) {
        if (i > 0) message += ", ";
        message += o.properties[i].name;
      }
      message += ")";
    }
    return message;
  }

  bool CheckArray(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    const ArrayConstraints& a = node.array;
    if (v.size() < a.min_items) {
      return Fail(
          node, *path,
          "expected at least " + Plural(a.min_items, "item") + ", got " + std::to_string(v.size()),
          out);
    }
    if (a.max_items && v.size() > *a.max_items) {
      return Fail(
          node, *path,
          "expected at most " + Plural(*a.max_items, "item") + ", got " + std::to_string(v.size()),
          out);
    }
    const size_t length = path->size();
    for (size_t i = 0; i < v.size(); ++i) {
      const Node* item = i < a.prefix_items.size() ? a.prefix_items[i] : a.items;
      if (item == nullptr) {
        if (i >= a.prefix_items.size()) break;
        continue;
      }
      path->append("/").append(std::to_string(i));
      bool ok = true;
      if (item->is_false && i >= a.prefix_items.size()) {
        ok = Fail(
            node, *path,
            "unexpected item: at most " + Plural(a.prefix_items.size(), "item") + " are allowed",
            out);
      } else {
        ok = CheckChild(*item, v[i], path, out);
      }
      path->resize(length);
      if (!ok) return false;
    }
    return true;
  }

  // Runs every alternative; returns how many matched and the violations of the others.
  size_t RunAlternatives(const std::vector<const Node*>& alternatives, const nlohmann::json& v,
                         std::string* path, std::vector<size_t>* matched,
                         std::vector<Violation>* failures) {
    for (size_t i = 0; i < alternatives.size(); ++i) {
      Violation violation;
      if (Check(*alternatives[i], v, path, &violation)) {
        matched->push_back(i);
      } else {
        failures->push_back(std::move(violation));
      }
    }
    return matched->size();
  }

  // When no alternative matched: if exactly one alternative failed deeper inside the value
  // (its shape fit), that is the useful error; otherwise list why each failed.
  static bool FailNoAlternative(const Node& node, const char* keyword, const std::string& path,
                                const std::vector<Violation>& failures, Violation* out) {
    const Violation* deeper = nullptr;
    int deeper_count = 0;
    for (const Violation& f : failures) {
      if (f.instance_pointer.size() > path.size()) {
        deeper = &f;
        ++deeper_count;
      }
    }
    if (deeper_count == 1) {
      *out = *deeper;
      return false;
    }
    std::string message = std::string("matches none of the ") + keyword + " alternatives (";
    for (size_t i = 0; i < failures.size(); ++i) {
      if (i > 0) message += "; ";
      if (i == 3) {
        message += "...";
        break;
      }
      if (failures[i].instance_pointer != path) {
        message += DisplayPointer(failures[i].instance_pointer) + ": ";
      }
      message += failures[i].message;
    }
    return Fail(node, path, message + ")", out);
  }

  bool CheckAnyOf(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    std::vector<Violation> failures;
    // Stop at the first match: only the count of oneOf needs every alternative.
    for (size_t i = 0; i < node.any_of.size(); ++i) {
      Violation violation;
      if (Check(*node.any_of[i], v, path, &violation)) return true;
      failures.push_back(std::move(violation));
    }
    return FailNoAlternative(node, "anyOf", *path, failures, out);
  }

  bool CheckOneOf(const Node& node, const nlohmann::json& v, std::string* path, Violation* out) {
    std::vector<size_t> matched;
    std::vector<Violation> failures;
    size_t count = RunAlternatives(node.one_of, v, path, &matched, &failures);
    if (count == 1) return true;
    if (count == 0) return FailNoAlternative(node, "oneOf", *path, failures, out);
    return Fail(node, *path,
                "matches oneOf alternatives " + std::to_string(matched[0]) + " and " +
                    std::to_string(matched[1]) + ", expected exactly one",
                out);
  }

  const bool integral_floats_;
  int depth_ = 0;
};

}  // namespace

std::string Violation::ToString() const {
  return DisplayPointer(instance_pointer) + ": " + message;
}

std::optional<Violation> FindViolation(const Schema& schema, const nlohmann::json& instance) {
  Validator validator(schema);
  std::string path;
  Violation violation;
  if (validator.Check(schema.root(), instance, &path, &violation)) return std::nullopt;
  return violation;
}

bool NodeAccepts(const Schema& schema, const Node& node, const nlohmann::json& instance) {
  Validator validator(schema);
  std::string path;
  Violation violation;
  return validator.Check(node, instance, &path, &violation);
}

Status Validate(const Schema& schema, const nlohmann::json& instance) {
  std::optional<Violation> violation = FindViolation(schema, instance);
  if (!violation) return Status::Ok();
  return InvalidArgument(violation->ToString());
}

bool JsonEqual(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!JsonEqual(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& item : a.items()) {
      auto it = b.find(item.key());
      if (it == b.end() || !JsonEqual(item.value(), *it)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace qs::json_schema
