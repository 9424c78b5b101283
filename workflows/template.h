// Templates in workflow strings: "{{inputs.x}}", "{{state.a.b}}", "{{item}}", "{{item.name}}"
// and "{{index}}" inside prompts, queries and tool arguments. The validator parses them to
// check every reference; the executor renders them. A template that is the whole string
// (nothing but one reference) keeps the JSON type of the value it refers to.
//
// There is no escape: "{{" always starts a reference.
//
// Thread safety: immutable values and stateless functions.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace qs::workflows {

// One {{...}} reference. root is "inputs", "state", "item" or "index"; path holds the
// segments after it ("{{state.a.b}}": root "state", path {"a", "b"}).
struct TemplateRef {
  std::string root;
  std::vector<std::string> path;
  std::string text;  // as written between the braces, trimmed: "state.a.b"
};

// A template is a sequence of literal text and references, in order.
struct TemplatePart {
  bool is_ref = false;
  std::string literal;  // when !is_ref
  TemplateRef ref;      // when is_ref
};

struct Template {
  std::vector<TemplatePart> parts;
  // True when the string is exactly one reference (spaces inside the braces allowed):
  // the rendered value keeps its JSON type instead of becoming text.
  bool IsWholeReference() const { return parts.size() == 1 && parts[0].is_ref; }
};

// Parses text; InvalidArgument names the problem ("unclosed {{", "unknown root 'foo' in
// {{foo.x}}", ...). Text without "{{" is one literal part (or none when empty).
StatusOr<Template> ParseTemplate(const std::string& text);

// Parses a dotted reference path as used by router conditions, map `over` and workflow
// outputs: "state.key(.more)*" or "inputs.name(.more)*" (no braces, no item/index).
StatusOr<TemplateRef> ParseValuePath(const std::string& text);

}  // namespace qs::workflows
