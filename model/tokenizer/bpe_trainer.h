// Trains a byte-level BPE tokenizer on a corpus and writes it as a Hugging Face
// `tokenizer.json` in the Qwen2 layout that Tokenizer::Load reads (tokenizer.h).
//
// The algorithm is byte-pair encoding as Sennrich, Haddow and Birch introduced it for
// subwords ("Neural Machine Translation of Rare Words with Subword Units", ACL 2016) on
// GPT-2's byte-level alphabet (Radford et al. 2019, "Language Models are Unsupervised
// Multitask Learners": BPE over bytes, so every text is encodable without an unknown
// token): the texts are pre-tokenized exactly as the written tokenizer will pre-tokenize
// them, each distinct pre-token (word) is counted, and the most frequent adjacent pair of
// symbols over all words is merged into a new token until the vocabulary is full.
//
// The tokenizer.json written:
//   - normalizer NFC; pre_tokenizer Sequence [Split with options.split_pattern (Isolated),
//     ByteLevel (no prefix space, no regex)]; decoder ByteLevel; model BPE;
//   - model.vocab: ids 0..255 are the single-byte tokens in the order of GPT-2's
//     bytes_to_unicode (the printable bytes '!'..'~', 0xA1..0xAC, 0xAE..0xFF first, then the
//     other 68 in byte order), as in the GPT-2 and Qwen2 vocabularies; then one id per merge
//     that made a new token, in merge order;
//   - model.merges: [left, right] pairs in merge order (their rank);
//   - added_tokens: options.special_tokens, "special": true, not normalized, with the ids
//     after the vocabulary, in the given order.
//
// Thread safety: TrainByteLevelBpe has no shared state; calls may run concurrently.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace qs::model {

struct BpeTrainerOptions {
  // Total ids: 256 byte tokens + tokens made by merges + special tokens. Training stops
  // early (a smaller vocabulary) when no pair reaches min_frequency.
  int vocab_size = 4096;
  // A pair must occur at least this often (counted over the whole corpus) to be merged;
  // values below 1 act as 1.
  int min_frequency = 2;
  // Added tokens, "special": true, ids after the vocabulary, in this order. Occurrences in
  // the training texts are cut out first (as Encode does), so they never take part in a
  // merge. Must be non-empty, distinct, valid UTF-8.
  std::vector<std::string> special_tokens;
  // The pre-tokenizer's Split regex (Oniguruma syntax, as tokenizer.json spells it; it must
  // compile on RE2 as split_regex.h runs it). Empty: Qwen2's pattern.
  std::string split_pattern;
};

// Qwen2's Split pattern: a word takes the character before it (" order", "\"alice").
extern const char kQwen2SplitPattern[];

// A pattern for models that copy values between prose and JSON (ids, names, carriers from
// a question or a tool result into a tool call or an answer): a word never takes the
// character before it, only one trailing space ("order ", "T", "5", "alice"), and digits
// stay single. So "alice" is the same token in `account: alice` and in `"alice"`, where
// Qwen2's pattern makes " alice" and "\"alice" two unrelated tokens.
extern const char kCopyFriendlySplitPattern[];

// Trains on `texts` and returns the tokenizer.json text. Deterministic: the same texts and
// options give byte-identical output (ties between equally frequent pairs go to the pair
// whose left token's bytes, then right token's bytes, are lexicographically smallest).
// Invalid UTF-8 in texts is repaired as Encode repairs it (each maximal ill-formed
// subsequence becomes U+FFFD). Bad options are InvalidArgument.
StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts,
                                        const BpeTrainerOptions& options);

}  // namespace qs::model
