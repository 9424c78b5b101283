// A byte-level matcher for JSON text that is valid against a compiled JSON Schema
// (runtime/json_schema/schema.h): the grammar side of constrained decoding (issue 4).
//
// JsonGrammar::Compile turns a Schema into a small table of "leaves" (schema nodes after
// $ref / anyOf / oneOf are resolved into sets of alternatives); a JsonMatcher walks bytes
// against it with an explicit stack of frames per live alternative (object, array, string,
// number, literal), in the spirit of XGrammar's pushdown automaton and llguidance's lexer +
// parser split (both compile JSON Schema to a grammar first; here the "grammar" is the
// schema graph itself, interpreted directly).
//
// Two modes:
//   kAccept    the full language: any member order, insignificant whitespace, every number
//              form, every string escape. Exact: used as an accept / reject oracle. Number
//              bounds, multipleOf and non-string enum / const values are checked exactly
//              when the value ends (they cannot make a prefix die early).
//   kGenerate  a canonical subset the model is steered into: compact JSON, members in
//              declared order, no members beyond "properties" (plus required names), numbers
//              without exponent (integers only when bounds are given), strings without \u
//              escapes, formats as regex subsets. Every prefix the matcher accepts can still
//              be completed (no dead ends), and MinBytesToClose is achievable.
//
// allOf, and $ref / anyOf / oneOf / enum / const next to other keywords, are merged into
// one schema node first (the keyword-wise intersection, anyOf / oneOf distributed over
// the rest, enum values filtered by the validator).
//
// patternProperties (at most 4 per object): declared and required members take the
// schemas of the patterns their names match; in kAccept, other members take those of the
// patterns they match (RE2 search on the key) or additionalProperties; kGenerate writes
// declared and required members only.
//
// Unsupported (Compile fails with Unsupported "unsupported by the grammar: KEYWORD at
// POINTER"): oneOf whose alternatives can overlap (disjoint means: different JSON types,
// enum values the other alternative rejects, or objects with a discriminator, a property
// both require pinned by const / enum to different values), allOf parts
// with two different patterns, formats or multipleOf, patternProperties inside allOf, more
// than 64 properties; in kGenerate also multipleOf unless an integer with at most 1024
// multiples within the bounds (then written as those values), non-integer bounds, pattern together
// with format, and pattern / format with a maxLength or minLength over 1024. Never does a
// document the schema rejects get accepted: anything not enforced exactly fails
// compilation.
//
// Thread safety: a JsonGrammar is immutable and may be shared; a JsonMatcher is a value
// (copy it to snapshot / roll back) and must not be used from two threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "runtime/json_schema/formats.h"
#include "runtime/json_schema/schema.h"
#include "runtime/structured/codepoint_dfa.h"

namespace qs::structured {

enum class GrammarMode { kAccept, kGenerate };

class JsonGrammar;

// Where a matcher stands: one stack of frames per live alternative.
class JsonMatcher {
 public:
  explicit JsonMatcher(std::shared_ptr<const JsonGrammar> grammar);

  // Consumes one byte; false (and the state unchanged) when no valid document continues so.
  bool Advance(uint8_t byte);
  // Advances over every byte; false (state unchanged) when any is rejected.
  bool AdvanceBytes(std::string_view bytes);
  // Whether the bytes so far are a complete valid document.
  bool IsComplete() const;
  // Fewest further bytes that complete a valid document (exact up to the cheapest code point
  // per string step, and always achievable in kGenerate; a best effort in kAccept);
  // kUnreachable when no completion exists.
  int64_t MinBytesToClose() const;
  // The bytes that are the only way on (stops at a choice or at a complete document).
  std::string ForcedBytes() const;
  // A key identifying the state exactly, grammar included.
  void AppendFingerprint(std::string* out) const;
  // The key of a mask cache for vocabularies whose tokens have at most room_cap code
  // points: the fingerprint, except that string positions that differ only in how much
  // maxLength room is left beyond room_cap share one key.
  void AppendMaskKey(int64_t room_cap, std::string* out) const;
  const JsonGrammar& grammar() const { return *grammar_; }

  static constexpr int64_t kUnreachable = int64_t{1} << 40;

  // Internal state, public for the implementation's helpers only.
  struct Frame {
    uint8_t kind = 0;
    uint8_t phase = 0;
    uint8_t flags = 0;
    int32_t leaf = -1;  // the leaf this value is matched against
    int32_t n = 0;      // code points / items started / next declared property
    int32_t q = 0;      // DFA state (string) / literal range begin / number digits
    int32_t q2 = 0;     // literal range end / fraction digits
    int32_t pos = 0;    // literal position / partial-sequence bytes left
    int32_t alts = -1;  // object: alternatives of the current member's value
    uint32_t lo = 0;    // partial code point range (UTF-8, \u escapes) / number value
    uint32_t hi = 0;
    uint64_t bits = 0;  // object: declared properties seen (kAccept)
  };
  struct Stack {
    std::vector<Frame> frames;
    std::string text;     // decoded key / format string / number text being matched
    std::string capture;  // raw text of an enum / const value (kAccept)
    int32_t capture_depth = -1;
    int32_t capture_leaf = -1;
  };

  // For the token matcher's trie walk, which steps string content without copying the whole
  // state: whether there is one live stack whose top is string content (not a key, not an
  // enum value being captured); its top frame; and one content byte (not '"' or '\\') on a
  // detached copy of it. A detached step keeps no text: when PlainStringKeepsText (a format
  // string in kAccept, checked when it ends), the walker appends the raw content bytes it
  // stepped with AppendStringText before stepping the full state again.
  bool InPlainString() const;
  bool PlainStringKeepsText() const;
  // For pattern and format strings at a code point boundary: a key for what the string's
  // own state decides (grammar, leaf, DFA state, and the code points so far or, where only
  // a maxLength depends on them, the room left capped at room_cap), i.e. which tokens of at
  // most room_cap whole code points without '"' or '\\' are accepted here, whatever
  // surrounds the string. False when the state is not such a string.
  bool StringContentKey(int64_t room_cap, std::string* out) const;
  // What decides, in such a string, whether plain tokens (whole code points >= U+0020,
  // no '"' or '\\') are accepted, when nothing else does: each code point must have a DFA
  // transition (dfa, from q; none: any), be allowed by the format (kAccept), and fit in
  // room. False when the state is not such a string or more is involved (kGenerate cost
  // tables).
  struct StringScan {
    const CodepointDfa* dfa = nullptr;
    int q = 0;
    int64_t room = 0;
    std::optional<json_schema::Format> format;
  };
  bool GetStringScan(StringScan* out) const;
  void AppendStringText(std::string_view bytes) { stacks_[0].text.append(bytes); }
  const Frame& top_frame() const { return stacks_[0].frames.back(); }
  void set_top_frame(const Frame& f) { stacks_[0].frames.back() = f; }
  bool StepStringFrame(Frame* top, uint8_t byte) const;
  // MinBytesToClose of this InPlainString state with its top frame replaced by `top`.
  int64_t MinBytesToCloseWithTop(const Frame& top) const;
  // For the token matcher's string fast path: when the state is string content at a code
  // point boundary whose only limits are counts of code points (no pattern, no format),
  // every token of complete UTF-8 code points >= U+0020 without '"' or '\\' is accepted iff
  // it has at most this many code points, and the more code points it has, the closer
  // (or as close) the document is to its end. -1 when the state is not such a string.
  int64_t PlainStringRoom() const;
  static constexpr int64_t kNoRoomLimit = int64_t{1} << 40;

 private:
  // The fingerprint; top_count, when set, replaces the count of the top frame.
  void AppendKey(const int64_t* top_count, std::string* out) const;

  std::shared_ptr<const JsonGrammar> grammar_;
  std::vector<Stack> stacks_;
};

class JsonGrammar {
 public:
  // The grammar refers to `schema`'s nodes: keep the schema alive as long as the grammar
  // and every matcher on it.
  static StatusOr<std::shared_ptr<const JsonGrammar>> Compile(const json_schema::Schema& schema,
                                                              GrammarMode mode);
  GrammarMode mode() const { return mode_; }
  // Unique per compiled grammar in this process (keys caches shared between grammars).
  uint64_t id() const { return id_; }
  // Fewest bytes of a whole document (kUnreachable when none can be produced).
  int64_t MinDocumentBytes() const;

  // Implementation tables (see json_grammar.cc).
  struct Impl;
  const Impl& impl() const { return *impl_; }
  ~JsonGrammar();
  JsonGrammar();

 private:
  GrammarMode mode_ = GrammarMode::kAccept;
  uint64_t id_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qs::structured
