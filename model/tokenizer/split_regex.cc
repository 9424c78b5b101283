#include "model/tokenizer/split_regex.h"

#include <re2/re2.h>

namespace qs::model {

namespace {

// Oniguruma's Unicode \s (Space_Separator, Line_Separator, Paragraph_Separator, U+0009..D,
// U+0085: the White_Space property, as unicode::IsWhiteSpace) and \w (Letter, Mark, Number,
// Connector_Punctuation), as class items (Oniguruma doc/RE).
constexpr char kSpaceItems[] =
    "\\x{9}-\\x{D} \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}";
constexpr char kWordItems[] = "\\p{L}\\p{M}\\p{N}\\p{Pc}";
constexpr char kEmulated[] = "\\s+(?!\\S)";
constexpr char kGroupName[] = "qs_ws";

struct Alternative {
  std::string raw;  // as written
  std::string re2;  // rewritten for RE2
  bool lookaround = false;
  bool inline_flags = false;  // a bare (?i) style group at the top level
};

// Splits the pattern into its top-level alternatives and rewrites each for RE2.
Status Translate(std::string_view p, const std::string& where, std::vector<Alternative>* alts) {
  alts->emplace_back();
  int depth = 0;
  bool in_class = false;
  size_t class_start = 0;  // index just after "[" or "[^"
  const auto unsupported = [&](const std::string& what) {
    return Unsupported(where + ": " + what + " in the pattern is not supported");
  };
  for (size_t i = 0; i < p.size(); ++i) {
    Alternative& alt = alts->back();
    const char c = p[i];
    alt.raw.push_back(c);
    if (c == '\\') {
      if (i + 1 >= p.size()) return InvalidArgument(where + ": the pattern ends with '\\'");
      const char e = p[++i];
      alt.raw.push_back(e);
      switch (e) {
        case 's':
          alt.re2 += in_class ? std::string(kSpaceItems) : "[" + std::string(kSpaceItems) + "]";
          break;
        case 'S':
          if (in_class) return unsupported("\\S inside a character class");
          alt.re2 += "[^" + std::string(kSpaceItems) + "]";
          break;
        case 'w':
          alt.re2 += in_class ? std::string(kWordItems) : "[" + std::string(kWordItems) + "]";
          break;
        case 'W':
          if (in_class) return unsupported("\\W inside a character class");
          alt.re2 += "[^" + std::string(kWordItems) + "]";
          break;
        case 'd':
          alt.re2 += "\\p{Nd}";
          break;
        case 'D':
          alt.re2 += "\\P{Nd}";
          break;
        default:
          alt.re2.push_back('\\');
          alt.re2.push_back(e);
      }
      continue;
    }
    if (in_class) {
      if (c == '[') {
        if (p.compare(i, 2, "[:") != 0) return unsupported("a nested character class");
        const size_t close = p.find(":]", i + 2);
        if (close == std::string_view::npos) {
          return InvalidArgument(where + ": unterminated [: in the pattern");
        }
        alt.raw.append(p.substr(i + 1, close + 1 - i));
        alt.re2.append(p.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
      if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return unsupported("class intersection (&&)");
      }
      if (c == ']' && i != class_start) in_class = false;
      alt.re2.push_back(c);
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        alt.re2.push_back(c);
        class_start = i + 1;
        if (class_start < p.size() && p[class_start] == '^') {
          alt.raw.push_back('^');
          alt.re2.push_back('^');
          ++i;
          ++class_start;
        }
        break;
      case '(': {
        ++depth;
        const std::string_view rest = p.substr(i);
        if (rest.rfind("(?=", 0) == 0 || rest.rfind("(?!", 0) == 0 || rest.rfind("(?<=", 0) == 0 ||
            rest.rfind("(?<!", 0) == 0) {
          alt.lookaround = true;
          alt.re2.push_back(c);
        } else if (rest.rfind("(?>", 0) == 0) {
          return unsupported("an atomic group (?>");
        } else if (rest.rfind("(?<", 0) == 0) {
          // Oniguruma's named group (?<name>...) is (?P<name>...) in RE2.
          alt.raw.append("?<");
          alt.re2.append("(?P<");
          i += 2;
        } else {
          alt.re2.push_back(c);
          if (rest.size() > 2 && rest[1] == '?') {
            size_t j = 2;
            while (j < rest.size() &&
                   std::string_view("imsx-").find(rest[j]) != std::string_view::npos) {
              ++j;
            }
            const std::string_view flags = rest.substr(2, j - 2);
            // (?m) is dot-all in Oniguruma's Ruby syntax but multi-line in RE2.
            if (flags.find('m') != std::string_view::npos) return unsupported("the (?m) flag");
            if (depth == 1 && !flags.empty() && j < rest.size() && rest[j] == ')') {
              alt.inline_flags = true;
            }
          }
        }
        break;
      }
      case ')':
        --depth;
        alt.re2.push_back(c);
        break;
      case '|':
        if (depth == 0) {
          alt.raw.pop_back();
          alts->emplace_back();
        } else {
          alt.re2.push_back(c);
        }
        break;
      default:
        alt.re2.push_back(c);
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<re2::RE2>> CompileRe2(const std::string& pattern,
                                               const std::string& where) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  // Unicode classes make large DFAs; with too little memory RE2 falls back to its slow NFA.
  options.set_max_mem(int64_t{64} << 20);
  auto re = std::make_unique<re2::RE2>(pattern, options);
  if (!re->ok()) {
    return Unsupported(where + ": RE2 cannot compile the pattern (" + re->error() +
                       "); it uses a regex feature RE2 lacks or is malformed");
  }
  return re;
}

}  // namespace

SplitRegex::~SplitRegex() = default;

StatusOr<std::unique_ptr<SplitRegex>> SplitRegex::Compile(std::string_view pattern,
                                                          const std::string& where) {
  std::vector<Alternative> alts;
  QS_RETURN_IF_ERROR(Translate(pattern, where, &alts));
  int emulated = -1;
  bool inline_flags = false;
  std::string main, after;
  for (size_t i = 0; i < alts.size(); ++i) {
    const Alternative& alt = alts[i];
    inline_flags = inline_flags || alt.inline_flags;
    std::string piece = alt.re2;
    if (alt.raw == kEmulated) {
      // A second copy can never match where the first did not: drop it.
      if (emulated >= 0) continue;
      emulated = static_cast<int>(i);
      piece = std::string("(?P<") + kGroupName + ">[" + kSpaceItems + "]+)";
    } else if (alt.lookaround) {
      return Unsupported(where + ": the lookaround in \"" + alt.raw +
                         "\" cannot be emulated (only an alternative that is exactly " + kEmulated +
                         " is)");
    }
    if (!main.empty() || i > 0) main += "|";
    main += piece;
    if (emulated >= 0 && static_cast<int>(i) > emulated) {
      if (!after.empty()) after += "|";
      after += alt.re2;
    }
  }
  if (emulated >= 0 && inline_flags) {
    return Unsupported(where + ": inline flags such as (?i) at the top level together with " +
                       kEmulated + " (use the (?i:...) group form)");
  }
  auto split = std::unique_ptr<SplitRegex>(new SplitRegex());
  split->re2_pattern_ = main;
  QS_ASSIGN_OR_RETURN(split->main_, CompileRe2(main, where));
  if (emulated >= 0) {
    split->ws_group_ = split->main_->NamedCapturingGroups().at(kGroupName);
    if (emulated + 1 < static_cast<int>(alts.size())) {
      QS_ASSIGN_OR_RETURN(split->after_, CompileRe2(after, where));
    }
  }
  return split;
}

StatusOr<std::unique_ptr<SplitRegex>> SplitRegex::Literal(std::string_view text,
                                                          const std::string& where) {
  if (text.empty()) return InvalidArgument(where + ": the split string is empty");
  auto split = std::unique_ptr<SplitRegex>(new SplitRegex());
  split->re2_pattern_ = re2::RE2::QuoteMeta(re2::StringPiece(text.data(), text.size()));
  QS_ASSIGN_OR_RETURN(split->main_, CompileRe2(split->re2_pattern_, where));
  return split;
}

namespace {
size_t CharLength(std::string_view text, size_t pos) {
  const auto c = static_cast<uint8_t>(text[pos]);
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
}  // namespace

void SplitRegex::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  const re2::StringPiece input(text.data(), text.size());
  std::vector<re2::StringPiece> groups(ws_group_ >= 0 ? ws_group_ + 1 : 1);
  const int ngroups = static_cast<int>(groups.size());
  size_t gap_start = 0;  // start of the text not yet emitted
  size_t pos = 0;        // where the next search starts
  while (pos <= text.size()) {
    if (!main_->Match(input, pos, text.size(), re2::RE2::UNANCHORED, groups.data(), ngroups)) {
      break;
    }
    const size_t start = static_cast<size_t>(groups[0].data() - text.data());
    size_t end = start + groups[0].size();
    if (ws_group_ >= 0 && groups[ws_group_].data() != nullptr) {
      // `\s+(?!\S)` won at `start`, and [start, end) is the maximal white-space run there.
      size_t last = end - 1;
      while (last > start && (static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
      if (end == text.size()) {
        // At the end of the text the lookahead holds for the whole run.
      } else if (last > start) {
        end = last;  // backtrack one character: the lookahead then sees a space
      } else {
        // A single space before a non-space: the alternative fails here, so the ones after
        // it get their turn at the same position.
        re2::StringPiece m;
        if (after_ != nullptr &&
            after_->Match(input, start, text.size(), re2::RE2::ANCHOR_START, &m, 1)) {
          end = start + m.size();
        } else {
          pos = start + CharLength(text, start);
          continue;
        }
      }
    }
    if (start > gap_start) pieces->push_back(text.substr(gap_start, start - gap_start));
    if (end > start) pieces->push_back(text.substr(start, end - start));
    gap_start = end;
    if (end > start) {
      pos = end;
    } else if (start < text.size()) {
      pos = start + CharLength(text, start);  // an empty match: step over one character
    } else {
      break;
    }
  }
  if (gap_start < text.size()) pieces->push_back(text.substr(gap_start));
}

}  // namespace qs::model
