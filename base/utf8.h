// UTF-8 encoding and strict decoding, shared by the tokenizer, the JSON Schema validator
// and the regex automata.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qs {

// Decodes one code point at s[*pos] and advances *pos. False (and *pos unchanged) on
// ill-formed UTF-8: bad lead or continuation bytes, truncation, overlong forms,
// surrogates, values above U+10FFFF.
bool DecodeUtf8(std::string_view s, size_t* pos, uint32_t* cp);

// Appends the UTF-8 encoding of a code point (<= U+10FFFF).
void AppendUtf8(char32_t cp, std::string* out);

}  // namespace qs
