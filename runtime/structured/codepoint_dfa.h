// A deterministic automaton over Unicode code points, compiled from the ECMA-262 regular
// expressions JSON Schema uses in "pattern" (and from the regexes behind "format"), so the
// constrained decoder can tell, code point by code point, whether a string can still match.
//
// Supported syntax: literals, '.', escapes (\d \D \w \W \s \S \t \n \r \f \v \0 \xHH \uHHHH
// \u{H..} \cX and escaped punctuation), classes [...] with ranges and negation, groups
// ( ), (?: ), (?<name> ), alternation, quantifiers * + ? {n} {n,} {n,m} (lazy forms too:
// same language), and ^ / $ at the start / end of a top-level alternative. Not supported
// (an Unsupported status naming it): lookaround, backreferences, \b \B, \p{..}, anchors
// elsewhere, and patterns whose automaton grows beyond the state limits.
//
// Semantics: JSON Schema patterns are not implicitly anchored (ECMA search), so an
// alternative without ^ / $ may be preceded / followed by any text. Surrogate code points
// (U+D800-U+DFFF) never match.
//
// Thread safety: immutable after construction; share freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"

namespace qs::structured {

constexpr uint32_t kMaxCodepoint = 0x10FFFF;

class CodepointDfa {
 public:
  struct Transition {
    uint32_t lo;  // inclusive code point range
    uint32_t hi;
    int32_t target;
  };
  struct Limits {
    int max_nfa_states = 20000;
    int max_dfa_states = 5000;
  };

  static StatusOr<CodepointDfa> FromRegex(std::string_view pattern, const Limits& limits);
  static StatusOr<CodepointDfa> FromRegex(std::string_view pattern) {
    return FromRegex(pattern, Limits{});
  }
  // Exactly one of the given strings (UTF-8), e.g. a string enum.
  static CodepointDfa OneOf(const std::vector<std::string>& strings);

  int start() const { return start_; }
  int num_states() const { return static_cast<int>(states_.size()); }
  bool accepting(int state) const { return states_[state].accepting; }
  // The next state, or -1 when no string through `cp` can match. Dead states are pruned,
  // so every state reachable here can still reach acceptance.
  int Next(int state, uint32_t cp) const;
  // Whether any code point in [lo, hi] has a transition (used for partial UTF-8 and \u
  // escapes, whose final code point is only known to lie in an interval).
  bool HasTransitionIn(int state, uint32_t lo, uint32_t hi) const;
  // Next for ASCII code points as a table, [state * 128 + cp] (-1: none); null before the
  // automaton is finished.
  const int32_t* ascii_table() const { return ascii_.empty() ? nullptr : ascii_.data(); }
  const std::vector<Transition>& transitions(int state) const { return states_[state].out; }
  // Fewest code points that lead from `state` to acceptance (0 when accepting).
  int MinCodepointsToAccept(int state) const { return states_[state].min_to_accept; }
  // Whether the automaton accepts every continuation (the ".*" sink): callers may stop
  // tracking it.
  bool AcceptsEverything(int state) const { return states_[state].accepts_everything; }
  // Whole-string match, for tests and validation.
  bool Matches(std::string_view utf8) const;

 private:
  struct State {
    bool accepting = false;
    std::vector<Transition> out;  // sorted, disjoint
    int min_to_accept = 0;
    bool accepts_everything = false;
  };
  friend class DfaBuilder;
  std::vector<State> states_;
  std::vector<int32_t> ascii_;  // [state * 128 + cp]: Next for ASCII code points
  int start_ = 0;
};

// Decodes one UTF-8 code point at s[*pos], advancing *pos (base/utf8.h).
using ::qs::DecodeUtf8;

}  // namespace qs::structured
