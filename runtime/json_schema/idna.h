// IDNA2008 A-label validation for the "hostname" format (internal to the library).
//
// Thread safety: stateless free functions.
#pragma once

#include <string>
#include <string_view>

namespace qs::json_schema {

// Decodes Punycode (RFC 3492 section 6.2, the part of an A-label after "xn--"); false when
// the input is not well-formed Punycode.
bool DecodePunycode(std::string_view input, std::u32string* output);

// Whether an LDH label that starts with "xn--" (any case) is a valid A-label: it decodes to
// a U-label with at least one non-ASCII code point that satisfies RFC 5891 section 4.2.3
// (no "--" in positions 3-4, no leading or trailing hyphen, no leading combining mark) and
// whose code points are PVALID, or CONTEXTJ / CONTEXTO with their RFC 5892 Appendix A rule
// satisfied. Not checked: the Bidi rule (RFC 5893). Unicode properties come from utf8proc;
// the few properties it lacks (scripts for the contextual rules, Arabic joining types for
// ZERO WIDTH NON-JOINER) are approximated by code point ranges, erring on rejection.
bool IsValidALabel(std::string_view label);

}  // namespace qs::json_schema
