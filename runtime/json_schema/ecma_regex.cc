#include "runtime/json_schema/ecma_regex.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace qs::json_schema {

namespace {

// ECMA-262 WhiteSpace and LineTerminator code points, as RE2 class items, and their
// complement (for \S inside a class, where RE2 cannot nest a negated class).
constexpr char kSpaceItems[] =
    "\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
    "\\x{205f}\\x{3000}\\x{feff}";
constexpr char kNonSpaceItems[] =
    "\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{9f}\\x{a1}-\\x{167f}\\x{1681}-\\x{1fff}"
    "\\x{200b}-\\x{2027}\\x{202a}-\\x{202e}\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}"
    "\\x{3001}-\\x{fefe}\\x{ff00}-\\x{10ffff}";

std::string CodePointItem(uint32_t cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "\\x{%x}", cp);
  return buffer;
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
uint32_t HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint32_t>(c - 'a' + 10);
  return static_cast<uint32_t>(c - 'A' + 10);
}

// General category names RE2 knows, and the ECMA long names / aliases for them.
const char* GeneralCategory(std::string_view name) {
  static constexpr const char* kShort[] = {"C",  "Cc", "Cf", "Co", "Cs", "L",  "Ll", "Lm", "Lo",
                                           "Lt", "Lu", "M",  "Mc", "Me", "Mn", "N",  "Nd", "Nl",
                                           "No", "P",  "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps",
                                           "S",  "Sc", "Sk", "Sm", "So", "Z",  "Zl", "Zp", "Zs"};
  for (const char* s : kShort) {
    if (name == s) return s;
  }
  static constexpr const char* kLong[][2] = {
      {"Other", "C"},
      {"Control", "Cc"},
      {"cntrl", "Cc"},
      {"Format", "Cf"},
      {"Private_Use", "Co"},
      {"Surrogate", "Cs"},
      {"Letter", "L"},
      {"Lowercase_Letter", "Ll"},
      {"Modifier_Letter", "Lm"},
      {"Other_Letter", "Lo"},
      {"Titlecase_Letter", "Lt"},
      {"Uppercase_Letter", "Lu"},
      {"Mark", "M"},
      {"Combining_Mark", "M"},
      {"Spacing_Mark", "Mc"},
      {"Enclosing_Mark", "Me"},
      {"Nonspacing_Mark", "Mn"},
      {"Number", "N"},
      {"Decimal_Number", "Nd"},
      {"digit", "Nd"},
      {"Letter_Number", "Nl"},
      {"Other_Number", "No"},
      {"Punctuation", "P"},
      {"punct", "P"},
      {"Connector_Punctuation", "Pc"},
      {"Dash_Punctuation", "Pd"},
      {"Close_Punctuation", "Pe"},
      {"Final_Punctuation", "Pf"},
      {"Initial_Punctuation", "Pi"},
      {"Other_Punctuation", "Po"},
      {"Open_Punctuation", "Ps"},
      {"Symbol", "S"},
      {"Currency_Symbol", "Sc"},
      {"Modifier_Symbol", "Sk"},
      {"Math_Symbol", "Sm"},
      {"Other_Symbol", "So"},
      {"Separator", "Z"},
      {"Line_Separator", "Zl"},
      {"Paragraph_Separator", "Zp"},
      {"Space_Separator", "Zs"},
  };
  for (const auto& entry : kLong) {
    if (name == entry[0]) return entry[1];
  }
  return nullptr;
}

class Translator {
 public:
  explicit Translator(std::string_view pattern) : p_(pattern) {}

  StatusOr<std::string> Run() {
    while (pos_ < p_.size()) {
      char c = p_[pos_];
      switch (c) {
        case '\\':
          QS_RETURN_IF_ERROR(Escape(/*in_class=*/false));
          break;
        case '[':
          QS_RETURN_IF_ERROR(Class());
          break;
        case '(':
          QS_RETURN_IF_ERROR(Group());
          break;
        case '.':
          out_ += "[^\\n\\r\\x{2028}\\x{2029}]";
          ++pos_;
          break;
        case ']':
        case '}':
          out_ += '\\';
          out_ += c;
          ++pos_;
          break;
        case '{':
          if (size_t end = QuantifierEnd(); end != 0) {
            QS_RETURN_IF_ERROR(CheckQuantifierBounds(p_.substr(pos_ + 1, end - pos_ - 2)));
            out_.append(p_.substr(pos_, end - pos_));
            pos_ = end;
          } else {
            out_ += "\\{";
            ++pos_;
          }
          break;
        default:
          out_ += c;
          ++pos_;
          break;
      }
    }
    return out_;
  }

 private:
  Status Malformed(const std::string& why) const {
    return InvalidArgument(why + " at offset " + std::to_string(pos_));
  }

  // When p_[pos_] == '{' starts a quantifier ({n}, {n,} or {n,m}): the offset just past its
  // '}'. Otherwise 0: ECMA reads a lone brace as a literal.
  size_t QuantifierEnd() const {
    size_t i = pos_ + 1;
    size_t digits = i;
    while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') ++i;
    if (i == digits) return 0;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') ++i;
    }
    return i < p_.size() && p_[i] == '}' ? i + 1 : 0;
  }

  // "n", "n," or "n,m" from a quantifier: n <= m, and RE2 allows at most 1000.
  Status CheckQuantifierBounds(std::string_view bounds) const {
    size_t comma = bounds.find(',');
    std::string_view low = bounds.substr(0, comma);
    std::string_view high = comma == std::string_view::npos ? low : bounds.substr(comma + 1);
    auto value = [](std::string_view digits) {
      uint64_t v = 0;
      for (char c : digits)
        v = std::min<uint64_t>(v * 10 + static_cast<uint64_t>(c - '0'), 1u << 30);
      return v;
    };
    if (!high.empty() && value(low) > value(high)) return Malformed("quantifier {n,m} with n > m");
    if (value(low) > 1000 || value(high) > 1000) return Unsupported("repetition count over 1000");
    return Status::Ok();
  }

  Status Group() {
    if (p_.substr(pos_, 2) != "(?") {
      out_ += '(';
      ++pos_;
      return Status::Ok();
    }
    std::string_view rest = p_.substr(pos_);
    if (rest.substr(0, 3) == "(?:") {
      out_ += "(?:";
      pos_ += 3;
      return Status::Ok();
    }
    if (rest.substr(0, 3) == "(?=" || rest.substr(0, 3) == "(?!") {
      return Unsupported("lookahead");
    }
    if (rest.substr(0, 4) == "(?<=" || rest.substr(0, 4) == "(?<!") {
      return Unsupported("lookbehind");
    }
    if (rest.substr(0, 3) == "(?<") {
      out_ += "(?P<";
      pos_ += 3;
      return Status::Ok();
    }
    return Malformed("invalid group");
  }

  Status Class() {
    ++pos_;  // '['
    bool negated = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    if (pos_ < p_.size() && p_[pos_] == ']') {
      // ECMA: [] matches nothing and [^] any code point; RE2 would read ']' as a member.
      out_ += negated ? "[\\x{0}-\\x{10ffff}]" : "[^\\x{0}-\\x{10ffff}]";
      ++pos_;
      return Status::Ok();
    }
    out_ += negated ? "[^" : "[";
    while (true) {
      if (pos_ >= p_.size()) return Malformed("unterminated character class");
      char c = p_[pos_];
      if (c == ']') {
        ++pos_;
        break;
      }
      if (c == '\\') {
        QS_RETURN_IF_ERROR(Escape(/*in_class=*/true));
        continue;
      }
      if (c == '[') out_ += '\\';  // RE2 would start a POSIX class at "[:"
      out_ += c;
      ++pos_;
    }
    out_ += ']';
    return Status::Ok();
  }

  // Reads \uXXXX or \u{X...} at pos_ (after the backslash and 'u'); surrogate pairs written
  // as two \u escapes become one code point.
  Status UnicodeEscape(uint32_t* cp) {
    if (pos_ < p_.size() && p_[pos_] == '{') {
      size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos || close == pos_ + 1) return Malformed("bad \\u{}");
      uint32_t v = 0;
      for (size_t i = pos_ + 1; i < close; ++i) {
        if (!IsHex(p_[i]) || v > 0x10FFFF) return Malformed("bad \\u{}");
        v = v * 16 + HexValue(p_[i]);
      }
      if (v > 0x10FFFF) return Malformed("bad \\u{}");
      pos_ = close + 1;
      *cp = v;
    } else {
      if (!ReadHex(4, cp)) return Malformed("bad \\u escape");
      if (*cp >= 0xD800 && *cp <= 0xDBFF && p_.substr(pos_, 2) == "\\u") {
        size_t saved = pos_;
        pos_ += 2;
        uint32_t low = 0;
        if (ReadHex(4, &low) && low >= 0xDC00 && low <= 0xDFFF) {
          *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
        } else {
          pos_ = saved;
        }
      }
    }
    if (*cp >= 0xD800 && *cp <= 0xDFFF) return Unsupported("lone surrogate");
    return Status::Ok();
  }

  bool ReadHex(size_t count, uint32_t* value) {
    if (pos_ + count > p_.size()) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < count; ++i) {
      if (!IsHex(p_[pos_ + i])) return false;
      v = v * 16 + HexValue(p_[pos_ + i]);
    }
    pos_ += count;
    *value = v;
    return true;
  }

  Status Property(bool negated) {
    if (pos_ >= p_.size() || p_[pos_] != '{') return Malformed("bad \\p escape");
    size_t close = p_.find('}', pos_);
    if (close == std::string_view::npos) return Malformed("bad \\p escape");
    std::string_view name = p_.substr(pos_ + 1, close - pos_ - 1);
    pos_ = close + 1;
    std::string re2_name;
    size_t eq = name.find('=');
    if (eq == std::string_view::npos) {
      const char* category = GeneralCategory(name);
      if (category == nullptr) return Unsupported("Unicode property");
      re2_name = category;
    } else {
      std::string_view key = name.substr(0, eq);
      std::string_view value = name.substr(eq + 1);
      if (key == "General_Category" || key == "gc") {
        const char* category = GeneralCategory(value);
        if (category == nullptr) return Unsupported("Unicode property");
        re2_name = category;
      } else if (key == "Script" || key == "sc") {
        re2_name = std::string(value);
        // RE2 knows scripts by their long names only; ask it.
        RE2::Options options;
        options.set_log_errors(false);
        if (!RE2("\\p{" + re2_name + "}", options).ok()) return Unsupported("Unicode script");
      } else {
        return Unsupported("Unicode property");
      }
    }
    out_ += negated ? "\\P{" : "\\p{";
    out_ += re2_name;
    out_ += '}';
    return Status::Ok();
  }

  Status Escape(bool in_class) {
    ++pos_;  // '\'
    if (pos_ >= p_.size()) return Malformed("trailing backslash");
    char c = p_[pos_++];
    uint32_t cp = 0;
    switch (c) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
        out_ += '\\';
        out_ += c;
        return Status::Ok();
      case 's':
        out_ += in_class ? kSpaceItems : std::string("[") + kSpaceItems + "]";
        return Status::Ok();
      case 'S':
        out_ += in_class ? kNonSpaceItems : std::string("[^") + kSpaceItems + "]";
        return Status::Ok();
      case 'b':
        out_ += in_class ? "\\x{8}" : "\\b";
        return Status::Ok();
      case 'B':
        if (in_class) return Malformed("\\B in a character class");
        out_ += "\\B";
        return Status::Ok();
      case 't':
        out_ += CodePointItem(0x9);
        return Status::Ok();
      case 'n':
        out_ += CodePointItem(0xA);
        return Status::Ok();
      case 'v':
        out_ += CodePointItem(0xB);
        return Status::Ok();
      case 'f':
        out_ += CodePointItem(0xC);
        return Status::Ok();
      case 'r':
        out_ += CodePointItem(0xD);
        return Status::Ok();
      case '0':
        if (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
          return Malformed("octal escapes are not allowed");
        }
        out_ += CodePointItem(0);
        return Status::Ok();
      case 'c':
        if (pos_ >= p_.size() ||
            !((p_[pos_] >= 'a' && p_[pos_] <= 'z') || (p_[pos_] >= 'A' && p_[pos_] <= 'Z'))) {
          return Malformed("bad \\c escape");
        }
        out_ += CodePointItem(static_cast<uint32_t>(p_[pos_++]) % 32);
        return Status::Ok();
      case 'x':
        if (!ReadHex(2, &cp)) return Malformed("bad \\x escape");
        out_ += CodePointItem(cp);
        return Status::Ok();
      case 'u':
        QS_RETURN_IF_ERROR(UnicodeEscape(&cp));
        out_ += CodePointItem(cp);
        return Status::Ok();
      case 'p':
      case 'P':
        return Property(c == 'P');
      case 'k':
        if (in_class) return Malformed("\\k in a character class");
        return Unsupported("backreference");
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      if (in_class) return Malformed("backreference in a character class");
      return Unsupported("backreference");
    }
    static constexpr std::string_view kSyntax = "^$\\.*+?()[]{}|/";
    if (kSyntax.find(c) != std::string_view::npos || (in_class && c == '-')) {
      out_ += '\\';
      out_ += c;
      return Status::Ok();
    }
    --pos_;
    return Malformed(std::string("invalid escape \\") + c);
  }

  std::string_view p_;
  size_t pos_ = 0;
  std::string out_;
};

}  // namespace

StatusOr<std::string> TranslateEcmaRegex(std::string_view pattern) {
  return Translator(pattern).Run();
}

}  // namespace qs::json_schema
