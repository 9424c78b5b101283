#include "model/tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>
#include <cstdlib>

namespace qs::model::unicode {

char32_t DecodeAt(std::string_view text, size_t pos, size_t* len) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const uint8_t c = b(0);
  if (c < 0x80) {
    *len = 1;
    return c;
  }
  if (c < 0xE0) {
    *len = 2;
    return (char32_t(c & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if (c < 0xF0) {
    *len = 3;
    return (char32_t(c & 0x0F) << 12) | (char32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  }
  *len = 4;
  return (char32_t(c & 0x07) << 18) | (char32_t(b(1) & 0x3F) << 12) | (char32_t(b(2) & 0x3F) << 6) |
         (b(3) & 0x3F);
}

namespace {

// Length of the well-formed sequence at text[pos], or 0 when it is ill-formed; then
// *bad_len is the length of its maximal ill-formed subpart (at least 1). Table 3-7 of the
// Unicode Standard gives the allowed ranges of the second byte per lead byte.
size_t SequenceAt(std::string_view text, size_t pos, size_t* bad_len) {
  const uint8_t c = static_cast<uint8_t>(text[pos]);
  *bad_len = 1;
  if (c < 0x80) return 1;
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 0x80..0xC1, 0xF5..0xFF never start a sequence
  }
  for (size_t i = 1; i <= need; ++i) {
    if (pos + i >= text.size()) return 0;
    const uint8_t t = static_cast<uint8_t>(text[pos + i]);
    const uint8_t tlo = i == 1 ? lo : 0x80, thi = i == 1 ? hi : 0xBF;
    if (t < tlo || t > thi) return 0;
    *bad_len = i + 1;
  }
  return need + 1;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0, bad = 0;
  while (pos < text.size()) {
    // ASCII fast path: most text is mostly ASCII.
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = SequenceAt(text, pos, &bad);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string ToValidUtf8(std::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  size_t pos = 0, bad = 0;
  while (pos < text.size()) {
    const size_t n = SequenceAt(text, pos, &bad);
    if (n == 0) {
      // `bad` counts the lead byte and the valid continuation bytes after it; the byte
      // that broke the sequence starts the next attempt.
      AppendUtf8(kReplacementChar, &out);
      pos += bad;
      continue;
    }
    out.append(text.substr(pos, n));
    pos += n;
  }
  return out;
}

bool IsWhiteSpace(char32_t cp) {
  // PropList.txt, White_Space (unchanged since Unicode 6.3).
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool IsWordChar(char32_t cp) {
  if (cp == '_') return true;
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

std::string Nfc(std::string_view text) {
  // ASCII is already in NFC; skipping it avoids utf8proc's allocation on the common path.
  bool ascii = true;
  for (char c : text) {
    if (static_cast<uint8_t>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(text);
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(text);  // only on invalid UTF-8, which callers rule out
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return out;
}

namespace {

struct ByteMaps {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 256 + 68> to_byte{};  // -1 where no byte maps
  ByteMaps() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMaps& Maps() {
  static const ByteMaps maps;
  return maps;
}

}  // namespace

char32_t ByteToChar(uint8_t byte) { return Maps().to_char[byte]; }

int CharToByte(char32_t cp) {
  const auto& to_byte = Maps().to_byte;
  return cp < to_byte.size() ? to_byte[cp] : -1;
}

}  // namespace qs::model::unicode
