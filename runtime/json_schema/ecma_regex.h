// JSON Schema's "pattern" and "patternProperties" use ECMA-262 regular expressions with
// Unicode semantics; quicksilver matches them with RE2. This translates the ECMA syntax
// into RE2 syntax with the same meaning where the two differ:
//   \s \S      ECMA's Unicode whitespace + line terminators (RE2's \s is ASCII only)
//   .          any code point but \n \r U+2028 U+2029 (RE2's . excludes only \n)
//   \cX \uXXXX \u{X} \xHH \0 \v, surrogate pairs, [\b], (?<name>), \p{Long_Name}
//   [] and [^] (never / always match one code point), literal ] and { outside classes
// \d \w \b stay ASCII as in ECMA; ^ and $ anchor at the text ends as in ECMA without the m
// flag; matching is a search (unanchored), as JSON Schema specifies.
// Lookaround, backreferences and unknown Unicode properties have no RE2 equivalent: they
// are Unsupported. Malformed patterns are InvalidArgument.
//
// Thread safety: stateless free functions.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace qs::json_schema {

StatusOr<std::string> TranslateEcmaRegex(std::string_view pattern);

}  // namespace qs::json_schema
