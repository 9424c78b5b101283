// Validates JSON instances against a compiled Schema (schema.h) and reports the first
// violation as the JSON pointer of the offending value plus a message a user (or a model
// being re-prompted) can act on: "/arguments/city: expected a string, got 42".
//
// Semantics worth knowing: integers are numbers without a fractional part (1.0 is an
// integer from draft 6 on); enum / const compare JSON values (1 == 1.0, object member order
// is irrelevant); lengths count code points; oneOf needs exactly one match;
// additionalProperties covers the members matched by neither properties nor
// patternProperties. Members are visited in sorted key order, so "first" is deterministic.
//
// Thread safety: stateless free functions; any number of threads may validate against the
// same Schema at once.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "runtime/json_schema/schema.h"

namespace qs::json_schema {

struct Violation {
  std::string instance_pointer;  // the offending value in the instance; "" is the instance
  std::string schema_pointer;    // the schema object whose keyword rejected it
  std::string message;           // "expected a string, got 42"

  // "/arguments/city: expected a string, got 42" ("(root): ..." for the whole instance).
  std::string ToString() const;
};

// nullopt when the instance is valid.
std::optional<Violation> FindViolation(const Schema& schema, const nlohmann::json& instance);

// Whether `instance` is valid against one node of `schema` (its subschemas included).
bool NodeAccepts(const Schema& schema, const Node& node, const nlohmann::json& instance);

// OK, or InvalidArgument with the first violation's ToString().
Status Validate(const Schema& schema, const nlohmann::json& instance);

// JSON equality as JSON Schema defines it: numbers by mathematical value (1 == 1.0),
// objects regardless of member order.
bool JsonEqual(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace qs::json_schema
