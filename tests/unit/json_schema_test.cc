#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "runtime/json_schema/ecma_regex.h"
#include "runtime/json_schema/formats.h"
#include "runtime/json_schema/numbers.h"
#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/uri.h"
#include "runtime/json_schema/validator.h"

namespace qs::json_schema {
namespace {

using nlohmann::json;

Schema MustCompile(const std::string& text, Draft draft = Draft::kDraft2020_12) {
  CompileOptions options;
  options.draft = draft;
  StatusOr<Schema> schema = Compile(nlohmann::ordered_json::parse(text), options);
  EXPECT_TRUE(schema.ok()) << text << " -> " << schema.status().ToString();
  if (!schema.ok()) std::abort();
  return std::move(schema).value();
}

// One schema, instances that must pass, and instances that must fail with the violation
// at the given instance pointer.
struct Failing {
  std::string instance;
  std::string pointer;
  std::string message;  // a substring of the message; empty: not checked
};
struct Case {
  std::string schema;
  std::vector<std::string> valid;
  std::vector<Failing> invalid;
  Draft draft = Draft::kDraft2020_12;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    Schema schema = MustCompile(c.schema, c.draft);
    for (const std::string& instance : c.valid) {
      std::optional<Violation> v = FindViolation(schema, json::parse(instance));
      EXPECT_FALSE(v.has_value()) << c.schema << " should accept " << instance << ", got "
                                  << v->ToString();
    }
    for (const Failing& f : c.invalid) {
      std::optional<Violation> v = FindViolation(schema, json::parse(f.instance));
      ASSERT_TRUE(v.has_value()) << c.schema << " should reject " << f.instance;
      EXPECT_EQ(v->instance_pointer, f.pointer)
          << c.schema << " / " << f.instance << " -> " << v->ToString();
      EXPECT_NE(v->message.find(f.message), std::string::npos)
          << c.schema << " / " << f.instance << " -> " << v->ToString();
    }
  }
}

TEST(JsonSchemaValidate, ReportsThePointerAndAnActionableMessage) {
  Schema schema = MustCompile(R"({"type": "object", "properties": {"arguments": {
      "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})");
  Status status = Validate(schema, json::parse(R"({"arguments": {"city": 42}})"));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "/arguments/city: expected a string, got 42");
  EXPECT_EQ(Validate(schema, json::parse(R"({"arguments": {}})")).message(),
            "/arguments: missing required property \"city\"");
  EXPECT_EQ(Validate(schema, json::parse("[]")).message(), "(root): expected an object, got []");
  EXPECT_TRUE(Validate(schema, json::parse(R"({"arguments": {"city": "Paris"}})")).ok());
}

TEST(JsonSchemaValidate, TypesAndValues) {
  RunCases({
      {R"({"type": "integer"})",
       {"1", "-7", "1.0", "1e3", "18446744073709551615"},
       {{"1.5", "", "expected an integer, got 1.5"}, {"\"1\"", "", ""}}},
      // Draft 4: an integer is written without a fraction.
      {R"({"type": "integer"})", {"1"}, {{"1.0", "", ""}}, Draft::kDraft4},
      {R"({"type": ["string", "null"]})",
       {"\"a\"", "null"},
       {{"0", "", "expected a string or null, got 0"}}},
      {R"({"type": "number"})", {"1", "1.5"}, {{"true", "", "expected a number, got true"}}},
      {R"({"type": "string", "nullable": true})", {"\"a\"", "null"}, {{"1", "", ""}}},
      // nullable only widens an explicit "type" (OpenAPI 3.0.3).
      {R"({"enum": ["a"], "nullable": true})", {"\"a\""}, {{"null", "", "expected one of"}}},
      {R"({"enum": [1, "a", {"x": [1]}, null]})",
       {"1.0", "\"a\"", R"({"x": [1.0]})", "null"},
       {{"2", "", "expected one of [1, \"a\", {\"x\":[1]}, null], got 2"}, {"true", "", ""}}},
      {R"({"const": {"a": 1, "b": [true]}})",
       {R"({"b": [true], "a": 1.0})"},
       {{R"({"a": 1})", "", "expected an object"}, {"1", "", ""}}},
      {"true", {"1", "null", "{}"}, {}},
      {"false", {}, {{"1", "", "no value is allowed here"}}},
      {"{}", {"1", "\"x\"", "[]"}, {}},
      // Keywords only constrain their own type.
      {R"({"minimum": 5, "minLength": 2, "required": ["a"], "minItems": 1})",
       {"5", "\"ab\"", R"({"a": 0})", "[0]", "null", "true"},
       {{"4", "", ">= 5"},
        {"\"a\"", "", "at least 2 characters"},
        {"{}", "", "missing"},
        {"[]", "", "at least 1 item"}}},
  });
}

TEST(JsonSchemaValidate, StringsCountCodePointsAndUseEcmaPatterns) {
  RunCases({
      {R"({"minLength": 2, "maxLength": 3})",
       {"\"ab\"", "\"\u00e9\u00e9\"", "\"\U0001F600\U0001F600\""},
       {{"\"\U0001F600\"", "", "at least 2 characters"},
        {"\"abcd\"", "", "at most 3 characters, got 4 characters"}}},
      {R"({"pattern": "^\\d{3}-\\d{4}$"})",
       {"\"555-1234\"", "1"},
       {{"\"5555-1234\"", "", "matching the pattern \"^\\\\d{3}-\\\\d{4}$\""}}},
      // Unanchored search; ECMA's \s includes U+00A0; '.' stops at line terminators.
      {R"({"pattern": "b+"})", {"\"abbc\""}, {{"\"ac\"", "", ""}}},
      {R"({"pattern": "^\\s$"})", {"\"\u00a0\"", "\"\\u2029\""}, {{"\"x\"", "", ""}}},
      {R"({"pattern": "^a.c$"})", {"\"abc\"", "\"a\u00e9c\""}, {{"\"a\\nc\"", "", ""}}},
      {R"({"pattern": "^[^\\S]x{2}[\\]a-]$"})", {"\" xx]\"", "\" xx-\""}, {{"\"xxx]\"", "", ""}}},
      {R"({"pattern": "^(?<word>\\w+)\\u0041\\x42\\u{43}$"})", {"\"zABC\""}, {{"\"zAB\"", "", ""}}},
      {R"({"pattern": "^\\p{Lu}\\p{Letter}*$"})", {"\"\u00c9cole\""}, {{"\"\u00e9cole\"", "", ""}}},
      {R"({"format": "date"})",
       {"\"2024-02-29\"", "1"},
       {{"\"2023-02-29\"", "", "expected an RFC 3339 date (YYYY-MM-DD), got \"2023-02-29\""}}},
      {R"({"format": "email"})", {"\"a.b@example.com\""}, {{"\"a..b@example.com\"", "", ""}}},
  });
}

TEST(JsonSchemaValidate, Numbers) {
  RunCases({
      {R"({"minimum": 1, "exclusiveMaximum": 3})",
       {"1", "2.999", "1.0"},
       {{"0.5", "", "expected a number >= 1, got 0.5"}, {"3", "", "expected a number < 3"}}},
      // Draft 4's boolean form (accepted in every draft).
      {R"({"maximum": 3, "exclusiveMaximum": true, "minimum": 1, "exclusiveMinimum": true})",
       {"2"},
       {{"3", "", "< 3"}, {"1", "", "> 1"}},
       Draft::kDraft4},
      {R"({"exclusiveMinimum": 0})", {"0.0001"}, {{"0", "", "> 0"}}},
      {R"({"multipleOf": 0.01})", {"19.99", "0.07", "100"}, {{"0.075", "", "multiple of 0.01"}}},
      {R"({"multipleOf": 3})", {"9", "-9", "0", "9.0"}, {{"10", "", "expected a multiple of 3"}}},
      // Exact comparison where doubles would round.
      {R"({"maximum": 9007199254740992})", {"9007199254740992"}, {{"9007199254740993", "", ""}}},
  });
  EXPECT_EQ(CompareNumbers(json(9223372036854775807LL), json(9223372036854775808.0)), -1);
  EXPECT_EQ(CompareNumbers(json(18446744073709551615ULL), json(-1)), 1);
  EXPECT_EQ(CompareNumbers(json(2), json(2.0)), 0);
  EXPECT_TRUE(IsMultipleOf(json(0.0075), json(0.0001)));
  EXPECT_FALSE(IsMultipleOf(json(0.00751), json(0.0001)));
  EXPECT_TRUE(IsMultipleOf(json(1e308), json(0.5)));
  EXPECT_FALSE(IsMultipleOf(json(1e308), json(0.123456789)));
  EXPECT_TRUE(IsMultipleOf(json(12391239123LL), json(1e-8)));
}

TEST(JsonSchemaValidate, ObjectsAndAdditionalProperties) {
  RunCases({
      {R"({"properties": {"a": {"type": "integer"}}, "patternProperties": {"^x-": {"type": "string"}},
           "additionalProperties": false})",
       {"{}", R"({"a": 1, "x-b": "s"})"},
       {{R"({"x-b": 1})", "/x-b", "expected a string"},
        {R"({"c": 1})", "/c", "unexpected property \"c\""},
        {R"({"a": "1"})", "/a", ""}}},
      // A member matching both properties and patternProperties is checked against both.
      {R"({"properties": {"x-a": {"minLength": 2}}, "patternProperties": {"^x-": {"type": "string"}}})",
       {R"({"x-a": "ab"})"},
       {{R"({"x-a": "a"})", "/x-a", ""}, {R"({"x-a": 12})", "/x-a", ""}}},
      {R"({"properties": {"a": {}, "b": {}}, "additionalProperties": false})",
       {},
       {{R"({"c": 1})", "/c", "unexpected property \"c\" (allowed: a, b)"}}},
      {R"({"additionalProperties": {"type": "integer"}})",
       {R"({"a": 1})"},
       {{R"({"a": 1, "b~/": "x"})", "/b~0~1", "expected an integer"}}},
  });
}

TEST(JsonSchemaValidate, Arrays) {
  RunCases({
      {R"({"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
       {"[]", R"(["a"])", R"(["a", 1])"},
       {{R"(["a", 1, 2])", "/2", "at most 2 items are allowed"}, {R"(["a", "b"])", "/1", ""}}},
      {R"({"items": {"type": "integer"}, "minItems": 1, "maxItems": 2})",
       {"[1]", "[1, 2.0]"},
       {{"[]", "", "at least 1 item"},
        {"[1, 2, 3]", "", "at most 2 items"},
        {"[1, \"x\"]", "/1", ""}}},
      // Draft 7 tuples: items array + additionalItems.
      {R"({"items": [{"type": "string"}], "additionalItems": {"type": "integer"}})",
       {"[]", R"(["a", 1, 2])"},
       {{R"(["a", "b"])", "/1", ""}, {"[1]", "/0", ""}},
       Draft::kDraft7},
      {R"({"items": [{"type": "string"}]})",
       {R"(["a", 1, null])"},
       {{"[1]", "/0", ""}},
       Draft::kDraft7},
  });
}

TEST(JsonSchemaValidate, Combinators) {
  RunCases({
      {R"({"oneOf": [{"type": "integer"}, {"minimum": 2}]})",
       {"1", "2.5"},
       {{"3", "", "matches oneOf alternatives 0 and 1, expected exactly one"},
        {"1.5", "", "matches none of the oneOf alternatives"}}},
      {R"({"anyOf": [{"type": "string"}, {"type": "null"}]})",
       {"\"a\"", "null"},
       {{"1", "",
         "matches none of the anyOf alternatives (expected a string, got 1; expected null"}}},
      // When one alternative fits the shape, its own error is the useful one.
      {R"({"anyOf": [{"type": "string"}, {"type": "object", "required": ["q"],
           "properties": {"q": {"type": "string"}}}]})",
       {R"({"q": "x"})"},
       {{R"({"q": 1})", "/q", "expected a string, got 1"}}},
      {R"({"allOf": [{"minimum": 1}, {"maximum": 2}]})", {"1", "2"}, {{"3", "", "<= 2"}}},
  });
}

TEST(JsonSchemaValidate, RefsAndRecursion) {
  const std::string tree = R"({
    "$defs": {"node": {"type": "object", "required": ["value"], "additionalProperties": false,
      "properties": {"value": {"type": "integer"},
                     "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
    "$ref": "#/$defs/node"})";
  RunCases({
      {tree,
       {R"({"value": 1})",
        R"({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]})"},
       {{R"({"value": 1, "children": [{"value": 2, "children": [{"value": 3}, {"value": "x"}]}]})",
         "/children/0/children/1/value", "expected an integer"},
        {R"({"value": 1, "children": [{}]})", "/children/0", "missing required property"}}},
      // A reference to the root.
      {R"({"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#"}}})",
       {R"({"v": 1, "next": {"v": 2, "next": {}}})"},
       {{R"({"next": {"next": {"v": "x"}}})", "/next/next/v", ""}}},
      // JSON pointers with ~0, ~1 and percent-encoding; draft 7 "definitions".
      {R"({"definitions": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}, "e f": {"type": "null"}},
           "properties": {"x": {"$ref": "#/definitions/a~1b"}, "y": {"$ref": "#/definitions/c~0d"},
                          "z": {"$ref": "#/definitions/e%20f"}}})",
       {R"({"x": "s", "y": 1, "z": null})"},
       {{R"({"x": 1})", "/x", ""}, {R"({"y": "s"})", "/y", ""}, {R"({"z": 1})", "/z", ""}},
       Draft::kDraft7},
      // "$id"-relative references and "$anchor".
      {R"({"$id": "https://example.com/root.json",
           "$defs": {"a": {"$id": "other.json", "type": "integer"}, "b": {"$anchor": "bee", "type": "string"}},
           "properties": {"a": {"$ref": "other.json"}, "b": {"$ref": "#bee"}}})",
       {R"({"a": 1, "b": "x"})"},
       {{R"({"a": "x"})", "/a", ""}, {R"({"b": 1})", "/b", ""}}},
  });
  // Draft 7 ignores the siblings of "$ref"; 2020-12 applies them too.
  const std::string sibling =
      R"({"$defs": {"i": {"type": "integer"}}, "$ref": "#/$defs/i", "minimum": 5})";
  EXPECT_FALSE(FindViolation(MustCompile(sibling, Draft::kDraft7), json(1)).has_value());
  EXPECT_TRUE(FindViolation(MustCompile(sibling), json(1)).has_value());
  // A known "$schema" wins over the option.
  EXPECT_EQ(MustCompile(R"({"$schema": "http://json-schema.org/draft-04/schema#"})").draft(),
            Draft::kDraft4);
}

TEST(JsonSchemaCompile, UnsupportedKeywordsFailWithKeywordAndPointer) {
  struct Unsupported {
    std::string schema;
    std::string message;
  };
  const std::vector<Unsupported> cases = {
      {R"({"properties": {"tags": {"type": "array", "uniqueItems": true}}})",
       "unsupported: uniqueItems at /properties/tags"},
      {R"({"not": {"type": "string"}})", "unsupported: not at (root)"},
      {R"({"if": {"type": "string"}, "then": {"minLength": 1}})", "unsupported: if at (root)"},
      {R"({"items": {"contains": {"type": "string"}}})", "unsupported: contains at /items"},
      {R"({"properties": {"a~b/c": {"minProperties": 1}}})",
       "unsupported: minProperties at /properties/a~0b~1c"},
      {R"({"maxProperties": 3})", "unsupported: maxProperties at (root)"},
      {R"({"propertyNames": {"maxLength": 3}})", "unsupported: propertyNames at (root)"},
      {R"({"dependentRequired": {"a": ["b"]}})", "unsupported: dependentRequired at (root)"},
      {R"({"dependentSchemas": {"a": {}}})", "unsupported: dependentSchemas at (root)"},
      {R"({"dependencies": {"a": ["b"]}})", "unsupported: dependencies at (root)"},
      {R"({"anyOf": [{"unevaluatedProperties": false}]})",
       "unsupported: unevaluatedProperties at /anyOf/0"},
      {R"({"unevaluatedItems": false})", "unsupported: unevaluatedItems at (root)"},
      {R"({"$dynamicRef": "#meta"})", "unsupported: $dynamicRef at (root)"},
      {R"({"properties": {"a": {"$ref": "https://example.com/a.json"}}})",
       "unsupported: $ref at /properties/a"},
      {R"({"format": "regex"})", "unsupported: format at (root)"},
      {R"j({"pattern": "^(?=a)"})j", "unsupported: pattern at (root)"},
      {R"j({"pattern": "(a)\\1"})j", "unsupported: pattern at (root)"},
      {R"j({"pattern": "(?<!a)b"})j", "unsupported: pattern at (root)"},
      {R"({"pattern": "^a{1,2000}$"})", "unsupported: pattern at (root)"},
      {R"j({"patternProperties": {"^(?!x)": {}}})j", "unsupported: patternProperties at (root)"},
      {R"({"$schema": "https://example.com/my-meta"})", "unsupported: $schema at (root)"},
  };
  for (const Unsupported& c : cases) {
    StatusOr<Schema> schema = Compile(json::parse(c.schema));
    ASSERT_FALSE(schema.ok()) << c.schema;
    EXPECT_EQ(schema.status().code(), StatusCode::kUnsupported) << c.schema;
    EXPECT_EQ(schema.status().message(), c.message) << c.schema;
  }
}

TEST(JsonSchemaCompile, HarmlessSpellingsAndUnusedDefinitionsCompile) {
  for (const char* text : {
           R"({"if": {"type": "string"}})",    // no then / else
           R"({"then": {"type": "string"}})",  // no if
           R"({"uniqueItems": false, "minProperties": 0})",
           R"({"minContains": 2})",                  // no contains
           R"({"$defs": {"unused": {"not": {}}}})",  // never referenced
           R"({"title": "t", "description": "d", "default": 1, "examples": [1], "$comment": "c",
               "deprecated": true, "readOnly": true, "writeOnly": false,
               "contentMediaType": "text/plain", "contentEncoding": "base64", "x-vendor": 1})",
       }) {
    StatusOr<Schema> schema = Compile(json::parse(text));
    EXPECT_TRUE(schema.ok()) << text << " -> " << schema.status().ToString();
  }
}

TEST(JsonSchemaCompile, IgnoredUnsupportedKeywordsAreListed) {
  const json text = json::parse(R"({"properties": {"tags": {"type": "array", "uniqueItems": true,
      "items": {"type": "string", "format": "idn-email"}}}, "not": {}})");
  CompileOptions options;
  options.ignore_unsupported = {"uniqueItems", "format"};
  StatusOr<Schema> partial = Compile(text, options);
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.status().message(), "unsupported: not at (root)");
  options.ignore_unsupported.insert("not");
  StatusOr<Schema> schema = Compile(text, options);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  // nlohmann::json sorts keys: "not" comes before "properties".
  ASSERT_EQ(schema->ignored().size(), 3u);
  EXPECT_EQ(schema->ignored()[0].keyword, "not");
  EXPECT_EQ(schema->ignored()[0].pointer, "");
  EXPECT_EQ(schema->ignored()[1].keyword, "uniqueItems");
  EXPECT_EQ(schema->ignored()[1].pointer, "/properties/tags");
  EXPECT_EQ(schema->ignored()[2].keyword, "format");
  EXPECT_EQ(schema->ignored()[2].pointer, "/properties/tags/items");
  EXPECT_TRUE(Validate(*schema, json::parse(R"({"tags": ["a", "a"]})")).ok());

  CompileOptions all;
  all.ignore_all_unsupported = true;
  StatusOr<Schema> everything = Compile(text, all);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->ignored().size(), 3u);
}

TEST(JsonSchemaCompile, MalformedSchemasNameTheKeywordAndPointer) {
  struct Malformed {
    std::string schema;
    std::string message;
  };
  const std::vector<Malformed> cases = {
      {R"({"type": "strin"})", "\"type\" at (root): unknown type \"strin\""},
      {R"({"type": 3})", "\"type\" at (root): must be a type name"},
      {R"({"properties": {"a": {"minLength": -1}}})",
       "\"minLength\" at /properties/a: must be a non-negative integer, got -1"},
      {R"({"maxItems": 1.5})", "\"maxItems\" at (root): must be a non-negative integer"},
      {R"({"properties": {"a": {"$ref": "#/$defs/missing"}}})",
       "\"$ref\" at /properties/a: \"#/$defs/missing\" points to nothing in the schema"},
      {R"({"$ref": "#nowhere"})", "\"$ref\" at (root): \"#nowhere\" points to nothing"},
      {R"({"pattern": "[a-"})", "\"pattern\" at (root): invalid pattern \"[a-\""},
      {R"({"pattern": "a{2,1}"})", "\"pattern\" at (root): invalid pattern"},
      {R"({"pattern": "\\q"})", "\"pattern\" at (root): invalid pattern"},
      {R"({"patternProperties": {"(": {}}})", "\"patternProperties\" at (root): invalid pattern"},
      {R"({"anyOf": []})", "\"anyOf\" at (root): must be a non-empty array of schemas"},
      {R"({"properties": 3})", "\"properties\" at (root): must be an object"},
      {R"({"required": "a"})", "\"required\" at (root): must be an array of strings"},
      {R"({"multipleOf": 0})", "\"multipleOf\" at (root): must be a number greater than 0"},
      {R"({"enum": 1})", "\"enum\" at (root): must be an array"},
      {R"({"items": [{}]})", "\"items\" at (root): must be a schema in 2020-12"},
      {R"({"properties": {"a": 42}})", "schema at /properties/a: must be an object or a boolean"},
      {R"({"$ref": "#"})", "schema at (root): refers back to itself"},
      {R"({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"$ref": "#/$defs/a"}},
          "$ref": "#/$defs/a"})",
       "refers back to itself"},
  };
  for (const Malformed& c : cases) {
    StatusOr<Schema> schema = Compile(json::parse(c.schema));
    ASSERT_FALSE(schema.ok()) << c.schema;
    EXPECT_EQ(schema.status().code(), StatusCode::kInvalidArgument) << c.schema;
    EXPECT_NE(schema.status().message().find(c.message), std::string::npos)
        << c.schema << " -> " << schema.status().message();
  }
}

TEST(JsonSchemaLimits, DeepNestingIsRejectedNotCrashed) {
  json instance = json::array();
  for (int i = 0; i < 600; ++i) instance = json::array({instance});
  Schema nested = MustCompile(R"({"$defs": {"a": {"type": "array", "items": {"$ref": "#/$defs/a"}}},
                                  "$ref": "#/$defs/a"})");
  std::optional<Violation> v = FindViolation(nested, instance);
  ASSERT_TRUE(v.has_value());
  EXPECT_NE(v->message.find("nested deeper than 512 levels"), std::string::npos) << v->message;

  json schema = json::object();
  for (int i = 0; i < 600; ++i) schema = json{{"items", schema}};
  StatusOr<Schema> deep = Compile(schema);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(deep.status().message().find("nested deeper than 512 levels"), std::string::npos);
}

// The compiled form is what the grammar compiler will read.
TEST(JsonSchemaCompile, ExposesTheResolvedRepresentation) {
  Schema schema = MustCompile(R"({
    "type": "object",
    "properties": {"zeta": {"type": ["integer", "null"], "minimum": 0, "maximum": 10,
                            "exclusiveMaximum": true},
                   "alpha": {"type": "string", "minLength": 1, "pattern": "^a", "format": "uuid",
                             "enum": ["a", "b"]},
                   "list": {"type": "array", "prefixItems": [{"const": 1}], "items": false,
                            "maxItems": 1}},
    "required": ["zeta", "alpha", "zeta"],
    "additionalProperties": false})",
                              Draft::kDraft4);
  const Node& root = schema.root();
  EXPECT_TRUE(root.types.Has(Type::kObject));
  EXPECT_FALSE(root.types.Has(Type::kString));
  ASSERT_EQ(root.object.properties.size(), 3u);
  EXPECT_EQ(root.object.properties[0].name, "zeta");  // declared order
  EXPECT_EQ(root.object.properties[1].name, "alpha");
  EXPECT_EQ(root.object.required, (std::vector<std::string>{"zeta", "alpha"}));
  ASSERT_NE(root.object.additional_properties, nullptr);
  EXPECT_TRUE(root.object.additional_properties->is_false);

  const Node& zeta = *root.object.properties[0].schema;
  EXPECT_EQ(zeta.pointer, "/properties/zeta");
  EXPECT_TRUE(zeta.types.Has(Type::kInteger) && zeta.types.Has(Type::kNull));
  EXPECT_EQ(*zeta.number.minimum, json(0));
  EXPECT_FALSE(zeta.number.maximum.has_value());
  EXPECT_EQ(*zeta.number.exclusive_maximum, json(10));

  const Node& alpha = *root.object.properties[1].schema;
  EXPECT_EQ(alpha.string.min_length, 1u);
  EXPECT_EQ(alpha.string.pattern->source, "^a");
  EXPECT_EQ(alpha.string.format, Format::kUuid);
  EXPECT_EQ(alpha.enum_values->size(), 2u);

  const Node& list = *root.object.properties[2].schema;
  ASSERT_EQ(list.array.prefix_items.size(), 0u);  // "prefixItems" is not a draft-4 keyword
  EXPECT_EQ(list.array.max_items, 1u);

  Schema tuple = MustCompile(R"({"prefixItems": [{"const": 1}], "items": false})");
  ASSERT_EQ(tuple.root().array.prefix_items.size(), 1u);
  EXPECT_EQ(*tuple.root().array.prefix_items[0]->const_value, json(1));
  EXPECT_TRUE(tuple.root().array.items->is_false);

  Schema recursive = MustCompile(R"({"properties": {"next": {"$ref": "#"}}})");
  EXPECT_EQ(recursive.root().object.properties[0].schema->ref, &recursive.root());
}

TEST(JsonSchemaFormats, ChecksFollowTheRfcs) {
  EXPECT_TRUE(IsDateTime("1998-12-31T23:59:60Z"));
  EXPECT_TRUE(IsTime("15:59:60-08:00"));
  EXPECT_FALSE(IsTime("23:59:60+01:00"));
  EXPECT_FALSE(IsTime("12:00:00"));  // the offset is required
  EXPECT_TRUE(IsDuration("P1Y2M3DT4H5M6S"));
  EXPECT_TRUE(IsDuration("P2W"));
  EXPECT_FALSE(IsDuration("P1Y2D"));
  EXPECT_FALSE(IsDuration("PT"));
  EXPECT_TRUE(IsEmail("\"joe bloggs\"@example.com"));
  EXPECT_TRUE(IsEmail("joe@[IPv6:::1]"));
  EXPECT_FALSE(IsEmail("joe@[127.0.0.300]"));
  EXPECT_TRUE(IsHostname("xn--4gbwdl.xn--wgbh1c"));
  EXPECT_TRUE(IsHostname("xn--bcher-kva.example"));  // bücher
  EXPECT_TRUE(IsHostname("XN--BCHER-KVA.example"));
  EXPECT_FALSE(IsHostname("xn--abc-"));  // decodes to plain ASCII: not an A-label
  EXPECT_FALSE(IsHostname("example."));
  EXPECT_FALSE(IsHostname("xn--X"));
  EXPECT_FALSE(IsHostname("host_name"));
  EXPECT_FALSE(IsHostname(std::string(64, 'a') + ".com"));
  EXPECT_TRUE(IsIpv4("0.0.0.0"));
  EXPECT_FALSE(IsIpv4("01.2.3.4"));
  EXPECT_TRUE(IsIpv6("1::d6:192.168.0.1"));
  EXPECT_FALSE(IsIpv6("1::d6::42"));
  EXPECT_FALSE(IsIpv6("1:2:3:4:5:6:7"));
  EXPECT_TRUE(IsUuid("2EB8AA08-AA98-11EA-B4AA-73B441D16380"));
  EXPECT_TRUE(IsAbsoluteUri("ldap://[2001:db8::7]/c=GB?objectClass?one"));
  EXPECT_FALSE(IsAbsoluteUri("/relative"));
  EXPECT_FALSE(IsAbsoluteUri("http://example.com/a b"));
}

TEST(JsonSchemaUri, ResolvesReferencesPerRfc3986) {
  // RFC 3986 section 5.4 examples.
  Uri base = *ParseUriReference("http://a/b/c/d;p?q");
  const std::vector<std::pair<std::string, std::string>> examples = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"", "http://a/b/c/d;p?q"},
      {"../g", "http://a/b/g"},
      {"../../../g", "http://a/g"},
      {"g;x=1/../y", "http://a/b/c/y"},
  };
  for (const auto& [reference, expected] : examples) {
    EXPECT_EQ(ResolveReference(base, *ParseUriReference(reference)).ToString(), expected)
        << reference;
  }
}

TEST(JsonSchemaEcmaRegex, TranslatesToRe2) {
  EXPECT_EQ(*TranslateEcmaRegex("^a{2,}b$"), "^a{2,}b$");
  EXPECT_EQ(*TranslateEcmaRegex("a{b}"), "a\\{b\\}");
  EXPECT_EQ(*TranslateEcmaRegex("\\cJ\\u00e9"), "\\x{a}\\x{e9}");
  EXPECT_EQ(*TranslateEcmaRegex("\\uD83D\\uDE00"), "\\x{1f600}");
  EXPECT_EQ(*TranslateEcmaRegex("[]"), "[^\\x{0}-\\x{10ffff}]");
  EXPECT_EQ(*TranslateEcmaRegex("(?<y>\\d)"), "(?P<y>\\d)");
  EXPECT_EQ(TranslateEcmaRegex("(?=x)").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(TranslateEcmaRegex("\\k<y>").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(TranslateEcmaRegex("\\p{Unknown_Thing}").status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(TranslateEcmaRegex("[a").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qs::json_schema
