// UTF-8 and Unicode helpers for the tokenizer (internal to model/tokenizer): decoding,
// repair of invalid UTF-8, the White_Space property, NFC, and GPT-2's byte <-> unicode map.
//
// Thread safety: free functions without shared mutable state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/utf8.h"

namespace qs::model::unicode {

constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes the code point at text[pos] of VALID UTF-8; sets *len to its byte length.
char32_t DecodeAt(std::string_view text, size_t pos, size_t* len);

// Appends the UTF-8 encoding of cp (base/utf8.h).
using ::qs::AppendUtf8;

// True when text is well-formed UTF-8 (Unicode 15, table 3-7).
bool IsValidUtf8(std::string_view text);

// Replaces every maximal ill-formed subsequence with U+FFFD, the Unicode "best practice"
// that Rust's String::from_utf8_lossy and WHATWG decoders follow. Valid text is unchanged.
std::string ToValidUtf8(std::string_view text);

// The Unicode White_Space property: what \s means in Oniguruma and Rust's regex.
bool IsWhiteSpace(char32_t cp);
// Letter or number (Rust's char::is_alphanumeric, approximated by general category) or '_'.
bool IsWordChar(char32_t cp);

// The string in Normalization Form C (canonical composition). Input must be valid UTF-8.
std::string Nfc(std::string_view text);

// GPT-2's reversible map from the 256 byte values to printable code points
// (openai/gpt-2 encoder.py bytes_to_unicode): bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map
// to themselves; the other 68 map to U+0100, U+0101, ... in byte order.
char32_t ByteToChar(uint8_t byte);
// The byte a code point stands for, or -1 when it is not in the map.
int CharToByte(char32_t cp);

}  // namespace qs::model::unicode
