// Small UTF-8 helpers for the JSON Schema library: code point counting (minLength and
// maxLength count code points, not bytes) and decoding/encoding for the format checks.
//
// Thread safety: stateless free functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/utf8.h"

namespace qs::json_schema {

// The number of code points in valid UTF-8 (the bytes that do not continue a sequence).
size_t CountCodePoints(std::string_view utf8);

// Decodes UTF-8 into code points; false on malformed input (overlong forms, surrogates,
// values above U+10FFFF, truncated sequences).
bool DecodeUtf8(std::string_view utf8, std::u32string* out);

// Appends the UTF-8 encoding of a code point (shared with the rest of the project).
using ::qs::AppendUtf8;

}  // namespace qs::json_schema
