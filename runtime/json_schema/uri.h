// URI references per RFC 3986: a strict parser (used by format "uri") and reference
// resolution (used to resolve "$id" and "$ref" against the base URI of a subschema).
//
// Thread safety: values and stateless free functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qs::json_schema {

// The five components of RFC 3986 section 3; an absent component differs from an empty one
// ("a?" has an empty query, "a" has none).
struct Uri {
  std::optional<std::string> scheme;
  std::optional<std::string> authority;
  std::string path;
  std::optional<std::string> query;
  std::optional<std::string> fragment;

  // Recomposition per RFC 3986 section 5.3.
  std::string ToString() const;
};

// Parses a URI-reference (RFC 3986 section 4.1: a URI or a relative reference), checking
// the characters and structure of every component (percent-encodings, IP literals, port
// digits). Returns nullopt when malformed. Non-ASCII characters are malformed (that would
// be an IRI).
std::optional<Uri> ParseUriReference(std::string_view text);

// True for a URI with a scheme (RFC 3986 "URI", fragment allowed): the "uri" format.
bool IsAbsoluteUri(std::string_view text);

// The target URI of `reference` against `base` (which should have a scheme), per RFC 3986
// section 5.2.2 with dot-segment removal.
Uri ResolveReference(const Uri& base, const Uri& reference);

}  // namespace qs::json_schema
