// A byte-level BPE tokenizer read from a Hugging Face `tokenizer.json` (Qwen2/Dream,
// LLaDA, Llama 3, GPT-2 style), without LibTorch or Python. Encode gives the ids that
// Hugging Face `tokenizers` gives with add_special_tokens=false.
//
// The pipeline, as Hugging Face runs it:
//   1. added tokens (special or not) are cut out of the raw text, longest match first;
//      those with "normalized": true are matched after step 2 instead;
//   2. the normalizer (NFC, or none) runs on each remaining segment;
//   3. the pre-tokenizer splits each segment: Split regex steps (see split_regex.h for how
//      Oniguruma patterns with \s+(?!\S) run on RE2), then ByteLevel (GPT-2's regex when
//      use_regex is true);
//   4. each pre-token's bytes go through merge-rank BPE (bpe.h).
// Anything in tokenizer.json outside this subset fails Load with Unsupported, naming the
// JSON path and the value; malformed files fail with InvalidArgument.
//
// Invalid UTF-8 in Encode's input: each maximal ill-formed subsequence is replaced by
// U+FFFD before step 1 (what Rust's from_utf8_lossy does; HF tokenizers only accept valid
// strings). Decode returns UTF-8 with the same repair applied to the concatenated bytes;
// TokenBytes gives the raw bytes.
//
// Thread safety: immutable after Load, except for an internal, mutex-guarded cache;
// Encode and Decode may be called from several threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace qs::model {

class Bpe;
class SplitRegex;

class Tokenizer {
 public:
  // dir_or_file: a folder holding tokenizer.json (a checkpoint folder) or the file itself.
  static StatusOr<std::unique_ptr<Tokenizer>> Load(const std::string& dir_or_file);
  // Parses tokenizer.json text; `path` names it in messages.
  static StatusOr<std::unique_ptr<Tokenizer>> FromJson(const std::string& json_text,
                                                       const std::string& path);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // The ids of text; no special tokens are added (add_special_tokens=false), but special
  // tokens written in the text are recognized.
  std::vector<int32_t> Encode(std::string_view text) const;

  // The text of ids: byte-level tokens give their bytes, added tokens their content.
  // Ids without a token are skipped.
  std::string Decode(const std::vector<int32_t>& ids) const;
  // As Decode, but an id without a token is an OutOfRange error naming it.
  StatusOr<std::string> DecodeChecked(const std::vector<int32_t>& ids) const;

  // The id of a token given as written in tokenizer.json (byte-level form for the
  // vocabulary, e.g. "Ġthe"; content for added tokens, e.g. "<|im_end|>"); -1 if absent.
  int32_t TokenId(std::string_view token) const;
  // The raw bytes a token stands for (the content of an added token); empty for an id
  // without a token. This is what a grammar matcher walks.
  const std::string& TokenBytes(int32_t id) const;
  // True for ids listed in added_tokens (special or not).
  bool IsAddedToken(int32_t id) const;
  // True for added tokens marked "special": true.
  bool IsSpecialToken(int32_t id) const;

  // Largest id + 1 over the vocabulary and the added tokens.
  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }

  // The pieces BPE sees for text (after added-token extraction, normalization and
  // pre-tokenization; raw bytes, before the byte-level mapping). Added tokens appear as
  // their content. For tests and debugging.
  std::vector<std::string> PreTokenize(std::string_view text) const;

 private:
  struct TokenInfo {
    std::string bytes;
    bool present = false;
    bool added = false;
    bool special = false;
  };
  struct AddedToken {
    int32_t id = -1;
    std::string content;  // normalized content for tokens matched after normalization
    bool lstrip = false;
    bool rstrip = false;
    bool single_word = false;
  };
  // Longest-match-first lookup of added tokens in a text.
  struct AddedMatcher {
    std::vector<AddedToken> tokens;
    std::vector<std::vector<int32_t>> by_first_byte;  // 256 lists, longest content first
    void Build();
    bool empty() const { return tokens.empty(); }
  };
  // A segment of text: either an added token's id or text still to tokenize.
  struct Segment {
    int32_t added_id = -1;
    std::string text;
  };

  Tokenizer();
  Status ParseJson(const std::string& json_text, const std::string& path);
  // Cuts matcher's tokens out of text (Hugging Face's AddedVocabulary::find_matches).
  static void ExtractAdded(const AddedMatcher& matcher, std::string text,
                           std::vector<Segment>* out);
  std::vector<Segment> Segments(std::string_view text) const;
  // Appends the pre-tokens of one normalized segment; pieces that gain a prefix space are
  // kept in *storage.
  void PreTokenizeSegment(const std::string& text, std::vector<std::string_view>* pieces,
                          std::deque<std::string>* storage) const;

  std::vector<TokenInfo> tokens_;  // by id
  std::unordered_map<std::string, int32_t> token_ids_;
  AddedMatcher raw_added_;         // matched on the raw text
  AddedMatcher normalized_added_;  // matched on normalized segments
  bool nfc_ = false;
  std::vector<std::unique_ptr<SplitRegex>> splits_;  // pre-tokenizer Split steps, in order
  std::unique_ptr<SplitRegex> byte_level_regex_;     // ByteLevel use_regex: GPT-2's pattern
  bool add_prefix_space_ = false;
  std::unique_ptr<Bpe> bpe_;
};

}  // namespace qs::model
