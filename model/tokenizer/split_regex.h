// The regex of a Hugging Face `Split` pre-tokenizer, run with RE2 (internal to
// model/tokenizer).
//
// Hugging Face compiles these patterns with Oniguruma (or fancy-regex), which differ from
// RE2 in two ways that matter for tokenizers:
//  - \s, \d and \w are Unicode-aware there (\s is the White_Space property); in RE2 they
//    are ASCII. The pattern is rewritten with explicit Unicode classes.
//  - Lookaround. GPT-2-style patterns end with `...|\s+(?!\S)|\s+`, which RE2 cannot
//    compile. A top-level alternative that is exactly `\s+(?!\S)` is emulated: it is
//    compiled as a named group `(?P<qs_ws>[white space]+)` in place and, when that group
//    wins at some position, the lookahead is applied by hand (a white-space run minus its
//    last character when a non-space follows; the whole run at the end of the text); if
//    that leaves nothing, the alternatives after it are tried at the same position. RE2's
//    leftmost-first alternation then gives exactly the backtracking engines' result.
//    Any other lookaround fails Compile with Unsupported.
//
// Thread safety: immutable after Compile; Split may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace re2 {
class RE2;
}

namespace qs::model {

class SplitRegex {
 public:
  // Compiles an Oniguruma-syntax pattern; `where` names it in messages (a JSON path).
  static StatusOr<std::unique_ptr<SplitRegex>> Compile(std::string_view pattern,
                                                       const std::string& where);
  // A pattern that matches the literal text (the `{"String": ...}` form of Split).
  static StatusOr<std::unique_ptr<SplitRegex>> Literal(std::string_view text,
                                                       const std::string& where);
  ~SplitRegex();

  // The "Isolated" split of (valid UTF-8) text: every match and every gap between
  // matches, in order, without empty pieces. Appends views into text.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

  // The RE2 pattern that was compiled (for tests and messages).
  const std::string& re2_pattern() const { return re2_pattern_; }

 private:
  SplitRegex() = default;

  std::string re2_pattern_;
  std::unique_ptr<re2::RE2> main_;
  // The alternatives after the emulated one, tried anchored when its lookahead fails.
  std::unique_ptr<re2::RE2> after_;
  int ws_group_ = -1;  // capture index of the emulated alternative; -1 when none
};

}  // namespace qs::model
