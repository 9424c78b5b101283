#include "runtime/json_schema/idna.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>

#include "runtime/json_schema/utf8.h"

namespace qs::json_schema {

namespace {

// RFC 3492 section 5 parameters.
constexpr uint32_t kBase = 36;
constexpr uint32_t kTMin = 1;
constexpr uint32_t kTMax = 26;
constexpr uint32_t kSkew = 38;
constexpr uint32_t kDamp = 700;
constexpr uint32_t kInitialBias = 72;
constexpr uint32_t kInitialN = 128;

// RFC 3492 section 6.1.
uint32_t Adapt(uint32_t delta, uint32_t num_points, bool first_time) {
  delta = first_time ? delta / kDamp : delta / 2;
  delta += delta / num_points;
  uint32_t k = 0;
  while (delta > ((kBase - kTMin) * kTMax) / 2) {
    delta /= kBase - kTMin;
    k += kBase;
  }
  return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
}

// The value of a Punycode digit (a-z, A-Z: 0-25; 0-9: 26-35), or kBase when invalid.
uint32_t DigitValue(char c) {
  if (c >= 'a' && c <= 'z') return static_cast<uint32_t>(c - 'a');
  if (c >= 'A' && c <= 'Z') return static_cast<uint32_t>(c - 'A');
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0') + 26;
  return kBase;
}

enum class Property { kPvalid, kContextJ, kContextO, kDisallowed };

bool IsWhiteSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool IsNoncharacter(char32_t cp) {
  return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE;
}

// RFC 5892 section 2.2 "Unstable": toNFKC(toCaseFold(toNFKC(cp))) != cp.
bool IsStable(char32_t cp) {
  std::string in;
  AppendUtf8(cp, &in);
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                   static_cast<utf8proc_ssize_t>(in.size()), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE |
                                                  UTF8PROC_COMPAT | UTF8PROC_CASEFOLD));
  bool stable =
      n >= 0 && std::string_view(reinterpret_cast<const char*>(out), static_cast<size_t>(n)) == in;
  std::free(out);
  return stable;
}

// RFC 5892 section 3 (the derivation of the IDNA2008 property), in its order.
Property DerivedProperty(char32_t cp) {
  // F: Exceptions (section 2.6).
  switch (cp) {
    case 0x00DF:
    case 0x03C2:
    case 0x06FD:
    case 0x06FE:
    case 0x0F0B:
    case 0x3007:
      return Property::kPvalid;
    case 0x00B7:
    case 0x0375:
    case 0x05F3:
    case 0x05F4:
    case 0x30FB:
      return Property::kContextO;
    case 0x0640:
    case 0x07FA:
    case 0x302E:
    case 0x302F:
    case 0x303B:
      return Property::kDisallowed;
    default:
      break;
  }
  if ((cp >= 0x0660 && cp <= 0x0669) || (cp >= 0x06F0 && cp <= 0x06F9)) {
    return Property::kContextO;
  }
  if (cp >= 0x3031 && cp <= 0x3035) return Property::kDisallowed;
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
  // J: Unassigned.
  if (p->category == UTF8PROC_CATEGORY_CN) return Property::kDisallowed;
  // K: LDH.
  if (cp == '-' || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z')) return Property::kPvalid;
  // H: JoinControl.
  if (cp == 0x200C || cp == 0x200D) return Property::kContextJ;
  // B: Unstable.
  if (!IsStable(cp)) return Property::kDisallowed;
  // C: IgnorableProperties.
  if (p->ignorable || IsWhiteSpace(cp) || IsNoncharacter(cp)) return Property::kDisallowed;
  // D: IgnorableBlocks (Combining Marks for Symbols, Musical Symbols, Ancient Greek
  // Musical Notation).
  if ((cp >= 0x20D0 && cp <= 0x20FF) || (cp >= 0x1D100 && cp <= 0x1D24F)) {
    return Property::kDisallowed;
  }
  // I: OldHangulJamo (the conjoining jamo blocks).
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) ||
      (cp >= 0xD7B0 && cp <= 0xD7FF)) {
    return Property::kDisallowed;
  }
  // A: LetterDigits.
  switch (p->category) {
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
      return Property::kPvalid;
    default:
      return Property::kDisallowed;
  }
}

int CombiningClass(char32_t cp) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

bool IsCombiningMark(char32_t cp) {
  utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC || c == UTF8PROC_CATEGORY_ME;
}

// Script approximations by block (utf8proc has no Script property).
bool IsGreek(char32_t cp) {
  if (cp >= 0x1F00 && cp <= 0x1FFF) return true;
  if (cp < 0x0370 || cp > 0x03FF) return false;
  return !(cp >= 0x03E2 && cp <= 0x03EF) && cp != 0x0374 && cp != 0x037E && cp != 0x0385 &&
         cp != 0x0387;
}
bool IsHebrew(char32_t cp) {
  return (cp >= 0x0591 && cp <= 0x05F4) || (cp >= 0xFB1D && cp <= 0xFB4F);
}
bool IsHiraganaKatakanaOrHan(char32_t cp) {
  return (cp >= 0x3041 && cp <= 0x309F) || (cp >= 0x30A0 && cp <= 0x30FF && cp != 0x30FB) ||
         (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0x2E80 && cp <= 0x2FDF) || cp == 0x3005 ||
         cp == 0x3007 || (cp >= 0x3021 && cp <= 0x3029) || (cp >= 0x3038 && cp <= 0x303B) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x1B000 && cp <= 0x1B16F) ||
         (cp >= 0x20000 && cp <= 0x3134F);
}

// Unicode Joining_Type, for the ZERO WIDTH NON-JOINER rule. utf8proc lacks it: transparent
// (T) comes from the general category (Mn, Me, Cf), and right-joining (R) / dual-joining (D)
// are listed for the main Arabic block from ArabicShaping.txt; every other code point is
// taken as non-joining (U), which can only reject a label.
enum class Joining { kU, kT, kR, kD };

Joining JoiningType(char32_t cp) {
  utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  if (c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF) {
    return Joining::kT;
  }
  if (cp < 0x0620 || cp > 0x06FF) return Joining::kU;
  switch (cp) {
    case 0x0622:
    case 0x0623:
    case 0x0624:
    case 0x0625:
    case 0x0627:
    case 0x0629:
    case 0x062F:
    case 0x0630:
    case 0x0631:
    case 0x0632:
    case 0x0648:
    case 0x0671:
    case 0x0672:
    case 0x0673:
    case 0x0675:
    case 0x0676:
    case 0x0677:
    case 0x06C0:
    case 0x06CD:
    case 0x06CF:
    case 0x06D2:
    case 0x06D3:
    case 0x06D5:
    case 0x06EE:
    case 0x06EF:
      return Joining::kR;
    default:
      break;
  }
  if ((cp >= 0x0688 && cp <= 0x0699) || (cp >= 0x06C3 && cp <= 0x06CB)) return Joining::kR;
  if (cp == 0x0620 || cp == 0x0626 || cp == 0x0628 || (cp >= 0x062A && cp <= 0x062E) ||
      (cp >= 0x0633 && cp <= 0x063F) || (cp >= 0x0641 && cp <= 0x0647) || cp == 0x0649 ||
      cp == 0x064A || cp == 0x066E || cp == 0x066F || (cp >= 0x0678 && cp <= 0x0687) ||
      (cp >= 0x069A && cp <= 0x06BF) || cp == 0x06C1 || cp == 0x06C2 || cp == 0x06CC ||
      cp == 0x06CE || cp == 0x06D0 || cp == 0x06D1 || (cp >= 0x06FA && cp <= 0x06FC) ||
      cp == 0x06FF) {
    return Joining::kD;
  }
  return Joining::kU;
}

// RFC 5892 Appendix A: the rule for the CONTEXTJ / CONTEXTO code point at label[i].
bool ContextRuleHolds(const std::u32string& label, size_t i) {
  const char32_t cp = label[i];
  const bool has_before = i > 0;
  const bool has_after = i + 1 < label.size();
  switch (cp) {
    case 0x200C: {  // ZERO WIDTH NON-JOINER (A.1)
      if (has_before && CombiningClass(label[i - 1]) == 9) return true;  // after a virama
      // Otherwise: (Joining_Type:{L,D})(Joining_Type:T)* ZWNJ (Joining_Type:T)*
      // (Joining_Type:{R,D}).
      bool joins_left = false;
      for (size_t j = i; j > 0; --j) {
        Joining t = JoiningType(label[j - 1]);
        if (t == Joining::kT) continue;
        joins_left = t == Joining::kD;
        break;
      }
      if (!joins_left) return false;
      for (size_t j = i + 1; j < label.size(); ++j) {
        Joining t = JoiningType(label[j]);
        if (t == Joining::kT) continue;
        return t == Joining::kR || t == Joining::kD;
      }
      return false;
    }
    case 0x200D:  // ZERO WIDTH JOINER (A.2): only after a virama.
      return has_before && CombiningClass(label[i - 1]) == 9;
    case 0x00B7:  // MIDDLE DOT (A.3): between two 'l'.
      return has_before && has_after && label[i - 1] == 'l' && label[i + 1] == 'l';
    case 0x0375:  // GREEK LOWER NUMERAL SIGN (KERAIA) (A.4): followed by Greek.
      return has_after && IsGreek(label[i + 1]);
    case 0x05F3:  // HEBREW PUNCTUATION GERESH / GERSHAYIM (A.5, A.6): after Hebrew.
    case 0x05F4:
      return has_before && IsHebrew(label[i - 1]);
    case 0x30FB:  // KATAKANA MIDDLE DOT (A.7): with Hiragana, Katakana or Han in the label.
      for (char32_t c : label) {
        if (IsHiraganaKatakanaOrHan(c)) return true;
      }
      return false;
    default:
      break;
  }
  // ARABIC-INDIC DIGITS (A.8) and EXTENDED ARABIC-INDIC DIGITS (A.9) do not mix.
  const bool extended = cp >= 0x06F0 && cp <= 0x06F9;
  for (char32_t c : label) {
    if (extended && c >= 0x0660 && c <= 0x0669) return false;
    if (!extended && c >= 0x06F0 && c <= 0x06F9) return false;
  }
  return true;
}

}  // namespace

bool DecodePunycode(std::string_view input, std::u32string* output) {
  output->clear();
  size_t basic_end = input.rfind('-');
  size_t in = 0;
  if (basic_end != std::string_view::npos) {
    for (size_t j = 0; j < basic_end; ++j) {
      if (static_cast<unsigned char>(input[j]) >= 0x80) return false;
      output->push_back(static_cast<char32_t>(input[j]));
    }
    in = basic_end + 1;
  }
  uint32_t n = kInitialN;
  uint32_t i = 0;
  uint32_t bias = kInitialBias;
  while (in < input.size()) {
    const uint32_t old_i = i;
    uint32_t w = 1;
    for (uint32_t k = kBase;; k += kBase) {
      if (in >= input.size()) return false;
      uint32_t digit = DigitValue(input[in++]);
      if (digit >= kBase) return false;
      if (digit > (UINT32_MAX - i) / w) return false;
      i += digit * w;
      uint32_t t = k <= bias ? kTMin : (k >= bias + kTMax ? kTMax : k - bias);
      if (digit < t) break;
      if (w > UINT32_MAX / (kBase - t)) return false;
      w *= kBase - t;
    }
    const uint32_t length = static_cast<uint32_t>(output->size()) + 1;
    bias = Adapt(i - old_i, length, old_i == 0);
    if (i / length > UINT32_MAX - n) return false;
    n += i / length;
    i %= length;
    if (n < 0x80 || n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) return false;
    output->insert(output->begin() + i, static_cast<char32_t>(n));
    ++i;
  }
  return true;
}

bool IsValidALabel(std::string_view label) {
  if (label.size() <= 4) return false;
  // DNS labels compare case-insensitively: check the lowercase form.
  std::string lower(label.substr(4));
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::u32string u;
  if (!DecodePunycode(lower, &u) || u.empty()) return false;
  bool has_non_ascii = false;
  for (char32_t c : u) has_non_ascii = has_non_ascii || c >= 0x80;
  if (!has_non_ascii) return false;
  // RFC 5891 section 4.2.3.1 and 4.2.3.2.
  if (u.size() >= 4 && u[2] == '-' && u[3] == '-') return false;
  if (u.front() == '-' || u.back() == '-') return false;
  if (IsCombiningMark(u.front())) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    switch (DerivedProperty(u[i])) {
      case Property::kPvalid:
        break;
      case Property::kContextJ:
      case Property::kContextO:
        if (!ContextRuleHolds(u, i)) return false;
        break;
      case Property::kDisallowed:
        return false;
    }
  }
  return true;
}

}  // namespace qs::json_schema
