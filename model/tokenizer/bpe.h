// Merge-rank byte-pair encoding over the bytes of one pre-token (internal to
// model/tokenizer). The classic algorithm (Sennrich et al. 2016, as GPT-2 and Hugging Face
// tokenizers apply it): start from one symbol per byte and repeatedly merge the adjacent
// pair with the lowest merge rank, leftmost first on ties, until no pair has a merge. A
// min-heap of candidate pairs makes a word of n bytes cost O(n log n), so long runs without
// spaces (CJK text, base64) stay cheap.
//
// Thread safety: configure (AddMerge, AddWord) on one thread before sharing; EncodeWord is
// then safe to call concurrently (its word cache is guarded by a mutex).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qs::model {

class Bpe {
 public:
  struct Options {
    int32_t unk_id = -1;         // a byte without a token becomes this id; -1: it is dropped
    bool fuse_unk = false;       // consecutive unknown bytes give one unk id
    bool ignore_merges = false;  // a word that is itself a token is taken whole
  };

  // byte_ids[b] is the id of the token made of the single byte b, or -1.
  Bpe(const std::array<int32_t, 256>& byte_ids, Options options);

  // Merges are ranked in the order they are added; adding a pair again re-ranks it (as a
  // later duplicate line wins in Hugging Face's merge map).
  void AddMerge(int32_t left, int32_t right, int32_t merged);
  // A token's bytes, for ignore_merges.
  void AddWord(const std::string& bytes, int32_t id);
  size_t num_merges() const { return merges_.size(); }

  // Appends the ids of one pre-token.
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void MergeWord(std::string_view word, std::vector<int32_t>* out) const;

  std::array<int32_t, 256> byte_ids_;
  Options options_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::unordered_map<std::string, int32_t> words_;  // only with ignore_merges
  int32_t next_rank_ = 0;

  // Results per pre-token, cleared when it grows past a bound (a simple cap that keeps the
  // common words of a text hot without unbounded growth).
  static constexpr size_t kMaxCacheEntries = 1 << 16;
  static constexpr size_t kMaxCachedWordBytes = 128;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace qs::model
