#include "runtime/json_schema/utf8.h"

#include "base/utf8.h"

namespace qs::json_schema {

size_t CountCodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

bool DecodeUtf8(std::string_view utf8, std::u32string* out) {
  out->clear();
  for (size_t pos = 0; pos < utf8.size();) {
    uint32_t cp;
    if (!::qs::DecodeUtf8(utf8, &pos, &cp)) return false;
    out->push_back(cp);
  }
  return true;
}

}  // namespace qs::json_schema
