// Matches a JsonMatcher against a tokenizer's vocabulary: the bitmask of tokens whose bytes
// the grammar accepts next (layout of kernels/kernels.h: bit t of word t / 32), EOS exactly
// when the document is complete. The mask comes from one walk of the vocabulary trie with a
// grammar state per depth (llguidance's toktrie walk), and is cached per grammar state
// (XGrammar caches per-state masks the same way; string-content states repeat a lot).
//
// String fast path (XGrammar's context-independent tokens, Dong et al. 2024): inside string
// content limited only by a code point count, a token made of whole code points >= U+0020
// without '"' or '\\' (145k of Qwen2's 151k tokens) is accepted iff it fits the count, and
// never changes the closing distance. Those come from a precomputed mask per remaining
// count; only the other tokens are walked, in a second, small trie. In pattern and format
// strings the plain tokens accepted depend only on the string's own state (DFA state and
// count), not on what surrounds it: masks without a budget cache them by that state.
//
// Budget: FillMaskWithBudget keeps only tokens after which the document can still be closed
// within the remaining budget (one token per byte bounds the tokens needed, as byte-level
// BPE has a token for every byte).
//
// Thread safety: not thread-safe (the cache and the walk buffers are mutable); use one
// TokenMatcher per decoding thread (the trie could be shared if that ever matters).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/structured/json_grammar.h"
#include "runtime/structured/token_trie.h"

namespace qs::structured {

class TokenMatcher {
 public:
  // token_bytes[id]: the bytes of token id (empty for special tokens, which are never
  // allowed); eos_ids: the tokens that end the document.
  TokenMatcher(const std::vector<std::string>& token_bytes, std::vector<int32_t> eos_ids);

  int vocab_size() const { return vocab_size_; }
  int mask_words() const { return (vocab_size_ + 31) / 32; }
  bool IsEos(int32_t id) const;

  // Fills mask_words() words for the state (cached by its fingerprint).
  void FillMask(const JsonMatcher& state, uint32_t* mask);
  // As FillMask, keeping only tokens after which at most budget_tokens - 1 further tokens
  // can close the document (EOS needs budget_tokens >= 1). Cached like FillMask, with the
  // largest closing distance any allowed token leads to: while the budget cannot bind
  // (budget_tokens - 1 >= that distance) the cached mask is the answer; only near the end
  // of the budget is the trie walked with the budget applied.
  void FillMaskWithBudget(const JsonMatcher& state, int64_t budget_tokens, uint32_t* mask);
  // Advances the state by a token's bytes; false (state unchanged) when rejected. An EOS
  // token is accepted only when the state is complete, and leaves it unchanged.
  bool AcceptToken(JsonMatcher* state, int32_t id) const;

  size_t cache_entries() const { return cache_.size(); }
  // Off: every mask walks the whole vocabulary (for tests comparing the two paths).
  void set_string_fast_path(bool on) { string_fast_path_ = on; }
  // The tokens whose bytes are exactly `bytes` (none for special tokens).
  const std::vector<int32_t>& TokensWithBytes(const std::string& bytes) const;

 private:
  // Fills the mask by walking the trie. budget_tokens < 0: no budget. max_close, when not
  // null, receives the largest MinBytesToClose after any accepted (non-EOS) token.
  void Walk(const JsonMatcher& state, int64_t budget_tokens, uint32_t* mask,
            int64_t* max_close = nullptr);

  struct CachedMask {
    std::vector<uint32_t> bits;  // without a budget
    int64_t max_close = -1;      // -1: not computed (the entry came from FillMask)
  };

  // Sets the bits of the plain string-content tokens a string in this scan state accepts
  // (a tight walk of plain_trie_ with per-depth DFA state and count; no grammar calls).
  void ScanPlainTokens(const JsonMatcher::StringScan& scan, uint32_t* mask);
  // The precomputed string-content tokens with at most `room` code points.
  const std::vector<uint32_t>& PlainStringMask(int64_t room);

  std::vector<std::string> token_bytes_;
  std::vector<int32_t> eos_ids_;
  TokenTrie trie_;
  // Per token: its code points when it is plain string content (see above), else -1.
  std::vector<int32_t> plain_code_points_;
  int32_t max_plain_code_points_ = 0;
  int32_t max_token_code_points_ = 0;  // of any token (an upper bound: lead bytes counted)
  TokenTrie plain_trie_;               // the tokens that are plain string content
  TokenTrie rest_trie_;                // the others
  // Pattern / format strings: the plain tokens accepted per StringContentKey.
  std::unordered_map<std::string, std::vector<uint32_t>> string_content_cache_;
  std::string content_key_;
  struct ScanLevel {
    int q;
    int need;     // continuation bytes still expected
    uint32_t cp;  // code point bits so far
    int64_t points;
  };
  std::vector<ScanLevel> scan_levels_;
  std::vector<std::vector<uint32_t>> plain_masks_;  // [room]: plain tokens of <= room points
  bool string_fast_path_ = true;
  int vocab_size_ = 0;
  // Per trie depth during a walk: the grammar state, or (light) the state of level base_
  // with its top string frame replaced by tops_; plain_: string content on top.
  std::vector<JsonMatcher> levels_;
  std::vector<JsonMatcher::Frame> tops_;
  std::vector<int> base_;
  std::vector<bool> light_;
  std::vector<bool> plain_;
  std::vector<bool> keeps_text_;  // plain_ and the string's text is kept (format strings)
  std::string path_;              // the trie path's bytes by depth (path_[d]: byte at depth d)
  std::unordered_map<std::string, CachedMask> cache_;
  std::unordered_map<std::string, std::vector<int32_t>> by_bytes_;
  std::string key_;
};

// A token sequence under a grammar, with rollback (the denoiser may undo commits).
class ConstrainedSequence {
 public:
  ConstrainedSequence(TokenMatcher* matcher, JsonMatcher start)
      : matcher_(matcher), history_{std::move(start)} {}
  const JsonMatcher& state() const { return history_.back(); }
  bool Accept(int32_t id);
  // Undoes the last n accepted tokens (n <= tokens()).
  void Rollback(int n);
  int tokens() const { return static_cast<int>(history_.size()) - 1; }

 private:
  TokenMatcher* matcher_;
  std::vector<JsonMatcher> history_;
};

}  // namespace qs::structured
