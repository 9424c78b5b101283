// Compiled JSON Schemas. A schema document is compiled once into an immutable graph of
// Nodes: every keyword resolved and checked, "$ref" resolved to a Node pointer (cycles are
// allowed, so recursive schemas such as trees work). The validator (validator.h) walks this
// graph, and so will the grammar compiler that turns a schema into token masks; the Node
// layout therefore spells out what each node constrains, grouped by instance type.
//
// Supported (drafts 4, 6, 7, 2019-09 and 2020-12, as tool schemas use them):
//   type (a name or an array; "integer" is a subset of "number"), nullable (OpenAPI 3.0:
//   adds null to an explicit "type"), enum, const, properties, required,
//   additionalProperties, patternProperties, items / prefixItems (2020-12) and the array form
//   of items + additionalItems (before 2020-12), minItems, maxItems, minLength, maxLength
//   (in code points), pattern (ECMA-262, see ecma_regex.h), format (the names in formats.h),
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum (draft-4 boolean or number form, in
//   any draft), multipleOf (exact in decimal, see numbers.h), allOf, anyOf, oneOf, boolean
//   schemas, and "$ref" to the same document: "#", JSON pointers ("#/$defs/x", with ~0 ~1
//   and percent-encoding), "$id"-relative URIs and "$anchor" / plain-name fragments.
//   In drafts 4-7 the siblings of "$ref" are ignored; from 2019-09 on they apply with it.
//   "format" is an assertion in every draft unless CompileOptions::assert_format is off.
//
// Keyword semantics follow JSON Schema: a keyword constrains only instances of its type
// ("minimum" says nothing about a string, "required" nothing about an array), so
// {"minimum": 5} accepts "abc"; only "type" restricts the kinds of value. Annotations
// (title, description, default, examples, $comment, deprecated, readOnly, writeOnly,
// contentMediaType, contentEncoding, contentSchema) and keywords unknown to JSON Schema are
// ignored, as the specification says. Subschemas under "$defs" / "definitions" are compiled
// only when something refers to them, so an unused definition never fails compilation.
//
// Unsupported (compilation fails with Unsupported "unsupported: KEYWORD at POINTER", where
// POINTER is the JSON pointer of the schema object holding the keyword, "(root)" for the
// root): not, if (with then / else), uniqueItems, contains (and minContains / maxContains
// with it), dependencies, dependentSchemas, dependentRequired, propertyNames, minProperties,
// maxProperties, unevaluatedProperties, unevaluatedItems, $recursiveRef, $dynamicRef; and
// these values of supported keywords: "$ref" to another document (remote refs), "format"
// with a name formats.h does not check, "pattern" / "patternProperties" regexes RE2 cannot
// express (lookaround, backreferences), "$schema" naming an unknown meta-schema (or, inside a
// subschema, another draft). CompileOptions::ignore_unsupported turns these into no-ops that
// are listed in Schema::ignored() (a dropped patternProperties regex matches no name).
//
// Malformed schemas fail with InvalidArgument naming the keyword and its pointer: a "type"
// that is not a type name, a negative minLength, a "$ref" to nothing, an invalid pattern,
// an empty anyOf, a "$ref" cycle that never descends into the instance ({"$ref": "#"}).
//
// Thread safety: a Schema is immutable once compiled; share it freely between threads
// (RE2 matching is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/json_schema/formats.h"

namespace re2 {
class RE2;
}

namespace qs::json_schema {

enum class Draft { kDraft4, kDraft6, kDraft7, kDraft2019_09, kDraft2020_12 };

// "draft-07", "2020-12", ...
const char* DraftName(Draft draft);
// The draft of a "$schema" URI (http or https, with or without the trailing '#').
std::optional<Draft> DraftFromSchemaUri(std::string_view uri);

// JSON value kinds as "type" names them.
enum class Type : uint8_t { kNull, kBoolean, kInteger, kNumber, kString, kArray, kObject };

const char* TypeName(Type type);

// A set of "type" names. kNumber admits every number, kInteger only integral ones (1 and,
// from draft 6 on, 1.0); a set holding both is the same as one holding kNumber.
class TypeSet {
 public:
  static TypeSet All() { return TypeSet(0x7F); }
  static TypeSet None() { return TypeSet(0); }

  bool Has(Type type) const { return (bits_ & Bit(type)) != 0; }
  void Add(Type type) { bits_ = static_cast<uint8_t>(bits_ | Bit(type)); }
  bool IsAll() const { return bits_ == 0x7F; }
  bool IsEmpty() const { return bits_ == 0; }
  uint8_t bits() const { return bits_; }
  // "a string", "an integer or null", "a string, number or null".
  std::string Describe() const;

 private:
  explicit TypeSet(uint8_t bits) : bits_(bits) {}
  static uint8_t Bit(Type type) { return static_cast<uint8_t>(1u << static_cast<int>(type)); }
  uint8_t bits_;
};

// A compiled "pattern": the ECMA-262 source and the equivalent RE2 expression.
struct Pattern {
  std::string source;
  std::string re2_source;
  std::shared_ptr<const re2::RE2> regex;

  // JSON Schema patterns are not anchored: true when the pattern matches anywhere in text.
  bool Search(std::string_view text) const;
};

struct Node;

// Constraints on string instances.
struct StringConstraints {
  uint64_t min_length = 0;  // in code points
  std::optional<uint64_t> max_length;
  std::optional<Pattern> pattern;
  std::optional<Format> format;
};

// Constraints on number instances. Bounds are JSON numbers (int64, uint64 or double as
// written); compare them with CompareNumbers (numbers.h). The draft-4 boolean form is
// normalized: {"maximum": 5, "exclusiveMaximum": true} becomes exclusive_maximum = 5.
struct NumberConstraints {
  std::optional<nlohmann::json> minimum;            // value >= minimum
  std::optional<nlohmann::json> exclusive_minimum;  // value > exclusive_minimum
  std::optional<nlohmann::json> maximum;            // value <= maximum
  std::optional<nlohmann::json> exclusive_maximum;  // value < exclusive_maximum
  std::optional<nlohmann::json> multiple_of;        // > 0
};

struct PropertySchema {
  std::string name;
  const Node* schema = nullptr;
};

struct PatternPropertySchema {
  Pattern pattern;
  const Node* schema = nullptr;
};

// Constraints on object instances. A member is checked against its "properties" schema
// and against every matching "patternProperties" schema; "additionalProperties" applies
// only to members matched by neither.
struct ObjectConstraints {
  std::vector<PropertySchema> properties;  // in the order the schema declares them
  std::vector<std::string> required;       // declared order, without duplicates
  std::vector<PatternPropertySchema> pattern_properties;
  // nullptr: any additional member is allowed; a node with is_false: none is.
  const Node* additional_properties = nullptr;

  const PropertySchema* FindProperty(std::string_view name) const;
};

// Constraints on array instances: item i is checked against prefix_items[i], items after
// the prefix against `items`. Draft 4-2019-09 tuples ("items": [...] + "additionalItems")
// map to the same two fields as 2020-12's "prefixItems" + "items".
struct ArrayConstraints {
  std::vector<const Node*> prefix_items;
  const Node* items = nullptr;  // nullptr: any value
  uint64_t min_items = 0;
  std::optional<uint64_t> max_items;
};

// One compiled schema object (or boolean schema). An instance is valid against a node when
// it satisfies every field: the type-specific groups only apply to instances of that type.
struct Node {
  std::string pointer;    // JSON pointer of this schema in the document; "" is the root
  bool is_false = false;  // the `false` schema: nothing is valid
  TypeSet types = TypeSet::All();
  std::optional<nlohmann::json> const_value;
  std::optional<std::vector<nlohmann::json>> enum_values;  // compared as JSON values: 1 == 1.0
  StringConstraints string;
  NumberConstraints number;
  ObjectConstraints object;
  ArrayConstraints array;
  // Subschemas applied to the same instance.
  const Node* ref = nullptr;  // "$ref"
  std::vector<const Node*> all_of;
  std::vector<const Node*> any_of;
  std::vector<const Node*> one_of;
};

// A keyword skipped because CompileOptions::ignore_unsupported asked for it.
struct IgnoredKeyword {
  std::string keyword;
  std::string pointer;  // the schema object holding it
};

struct CompileOptions {
  // The draft of a schema without "$schema"; a known "$schema" at the root wins.
  Draft draft = Draft::kDraft2020_12;
  // "format" asserts by default (the grammar compiler enforces it too). false makes it an
  // annotation, the 2019-09+ default without the format-assertion vocabulary: then no
  // format name is checked, known or not.
  bool assert_format = true;
  // Unsupported keywords (by name: "uniqueItems", "format", "pattern", "$ref", ...) to
  // ignore instead of failing; ignore_all_unsupported ignores every one.
  std::set<std::string> ignore_unsupported;
  bool ignore_all_unsupported = false;
};

class Schema {
 public:
  Schema(Schema&&) = default;
  Schema& operator=(Schema&&) = default;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  const Node& root() const { return *root_; }
  Draft draft() const { return draft_; }
  const std::vector<IgnoredKeyword>& ignored() const { return ignored_; }
  // Every node, in compilation order (the root first).
  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }

 private:
  friend class Compiler;
  Schema() = default;

  Draft draft_ = Draft::kDraft2020_12;
  std::vector<std::unique_ptr<Node>> nodes_;
  const Node* root_ = nullptr;
  std::vector<IgnoredKeyword> ignored_;
};

// Compiles a schema. The ordered_json overload keeps the declared order of "properties"
// (what a grammar should emit); nlohmann::json sorts object keys.
StatusOr<Schema> Compile(const nlohmann::ordered_json& schema, const CompileOptions& options = {});
StatusOr<Schema> Compile(const nlohmann::json& schema, const CompileOptions& options = {});

// A JSON pointer token with '~' and '/' escaped (RFC 6901).
std::string EscapePointerToken(std::string_view token);
// A pointer for messages: "(root)" for "".
std::string DisplayPointer(const std::string& pointer);

}  // namespace qs::json_schema
