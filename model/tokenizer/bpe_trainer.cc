// Byte-level BPE training (Sennrich et al. 2016 on GPT-2's byte alphabet; see
// bpe_trainer.h). The incremental bookkeeping follows the usual design of fast trainers
// (e.g. Hugging Face tokenizers' BpeTrainer, written here from the idea, not the code):
//   - words: each distinct pre-token once, as a symbol sequence, with its corpus count;
//   - pair counts over all words, and an index pair -> words that contain it (a superset:
//     entries are added when a pair appears in a word and never removed, so a word taken
//     from the index is checked before it is changed);
//   - a max-heap of (count, pair) candidates with lazy deletion: an entry whose count no
//     longer matches the table is dropped (or re-pushed with the current count when the
//     count fell), and every pair whose count rises is pushed again, so the top valid entry
//     is always the true best pair.
// A merge then costs time proportional to the words that contain the pair, not the corpus.
#include "model/tokenizer/bpe_trainer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/status.h"
#include "model/tokenizer/tokenizer.h"
#include "model/tokenizer/unicode.h"

namespace qs::model {

// Qwen2's pre-tokenizer Split pattern, as its tokenizer.json spells it (Oniguruma syntax;
// split_regex.h runs it on RE2).
const char kQwen2SplitPattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const char kCopyFriendlySplitPattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|\p{L}+ ?|\p{N}|[^\s\p{L}\p{N}]+ ?[\r\n]*|\s*[\r\n]+|\s+)";

namespace {

using OrderedJson = nlohmann::ordered_json;

// The loader keeps ids below 2^24 (tokenizer.cc).
constexpr int64_t kMaxVocabSize = int64_t{1} << 24;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t PairLeft(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t PairRight(uint64_t key) { return static_cast<int32_t>(static_cast<uint32_t>(key)); }

// A token's bytes in GPT-2's printable byte-level alphabet (how tokenizer.json writes it).
std::string ByteLevel(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) unicode::AppendUtf8(unicode::ByteToChar(static_cast<uint8_t>(c)), &out);
  return out;
}

// The 256 single-byte tokens by id: bytes_to_unicode's order, which is the order of the
// code points the bytes map to.
std::vector<std::string> ByteTokens() {
  std::array<int, 256> bytes{};
  for (int b = 0; b < 256; ++b) bytes[b] = b;
  std::sort(bytes.begin(), bytes.end(), [](int a, int b) {
    return unicode::ByteToChar(static_cast<uint8_t>(a)) <
           unicode::ByteToChar(static_cast<uint8_t>(b));
  });
  std::vector<std::string> tokens;
  tokens.reserve(256);
  for (int b : bytes) tokens.emplace_back(1, static_cast<char>(b));
  return tokens;
}

OrderedJson ByteLevelStep() {
  OrderedJson step;
  step["type"] = "ByteLevel";
  step["add_prefix_space"] = false;
  step["trim_offsets"] = false;
  step["use_regex"] = false;
  return step;
}

// tokenizer.json for a vocabulary (raw bytes by id), merges (id pairs, by rank) and special
// tokens (ids after the vocabulary). Keys in the order Hugging Face writes them.
std::string WriteTokenizerJson(const std::vector<std::string>& tokens,
                               const std::vector<std::pair<int32_t, int32_t>>& merges,
                               const std::vector<std::string>& special_tokens,
                               const std::string& split_pattern) {
  OrderedJson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  OrderedJson added = OrderedJson::array();
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    OrderedJson entry;
    entry["id"] = tokens.size() + i;
    entry["content"] = special_tokens[i];
    entry["single_word"] = false;
    entry["lstrip"] = false;
    entry["rstrip"] = false;
    entry["normalized"] = false;
    entry["special"] = true;
    added.push_back(std::move(entry));
  }
  root["added_tokens"] = std::move(added);
  root["normalizer"] = {{"type", "NFC"}};
  OrderedJson split;
  split["type"] = "Split";
  split["pattern"] = {{"Regex", split_pattern}};
  split["behavior"] = "Isolated";
  split["invert"] = false;
  OrderedJson pre;
  pre["type"] = "Sequence";
  pre["pretokenizers"] = OrderedJson::array({std::move(split), ByteLevelStep()});
  root["pre_tokenizer"] = std::move(pre);
  root["post_processor"] = ByteLevelStep();
  root["decoder"] = ByteLevelStep();

  OrderedJson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = "";
  model["end_of_word_suffix"] = "";
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = false;
  std::vector<std::string> written;
  written.reserve(tokens.size());
  OrderedJson vocab = OrderedJson::object();
  for (size_t id = 0; id < tokens.size(); ++id) {
    written.push_back(ByteLevel(tokens[id]));
    vocab[written.back()] = id;
  }
  model["vocab"] = std::move(vocab);
  OrderedJson merge_list = OrderedJson::array();
  for (const auto& [left, right] : merges) {
    merge_list.push_back(OrderedJson::array({written[left], written[right]}));
  }
  model["merges"] = std::move(merge_list);
  root["model"] = std::move(model);
  // ensure_ascii=false: the byte-level alphabet is written as UTF-8, as Hugging Face does.
  return root.dump(2, ' ', false) + "\n";
}

Status CheckOptions(const BpeTrainerOptions& options) {
  const int64_t specials = static_cast<int64_t>(options.special_tokens.size());
  if (options.vocab_size < 256 + specials) {
    return InvalidArgument("bpe trainer: vocab_size " + std::to_string(options.vocab_size) +
                           " is too small: it must hold the 256 byte tokens and the " +
                           std::to_string(specials) + " special tokens (at least " +
                           std::to_string(256 + specials) + ")");
  }
  if (options.vocab_size > kMaxVocabSize) {
    return InvalidArgument("bpe trainer: vocab_size " + std::to_string(options.vocab_size) +
                           " is above the loader's limit of " + std::to_string(kMaxVocabSize));
  }
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    const std::string& token = options.special_tokens[i];
    const std::string where = "bpe trainer: special_tokens[" + std::to_string(i) + "]";
    if (token.empty()) return InvalidArgument(where + " is empty");
    if (!unicode::IsValidUtf8(token)) return InvalidArgument(where + " is not valid UTF-8");
    if (!seen.insert(token).second) {
      return InvalidArgument(where + " " + OrderedJson(token).dump() + " is listed twice");
    }
  }
  return Status::Ok();
}

// Distinct pre-tokens (raw bytes) of the texts with their counts, sorted by bytes. The
// texts go through the pipeline of the tokenizer being written (a tokenizer without merges
// but with the special tokens), so training sees exactly the pieces Encode will see.
StatusOr<std::vector<std::pair<std::string, int64_t>>> CountWords(
    const std::vector<std::string>& texts, const std::vector<std::string>& byte_tokens,
    const std::vector<std::string>& special_tokens, const std::string& split_pattern) {
  QS_ASSIGN_OR_RETURN(
      std::unique_ptr<Tokenizer> pipeline,
      Tokenizer::FromJson(WriteTokenizerJson(byte_tokens, {}, special_tokens, split_pattern),
                          "bpe trainer"));
  // PreTokenize gives a special token as its content. Any piece equal to a special token's
  // content is one: the text around it was cut at every occurrence before splitting.
  const std::unordered_set<std::string> specials(special_tokens.begin(), special_tokens.end());
  std::unordered_map<std::string, int64_t> counts;
  for (const std::string& text : texts) {
    for (std::string& piece : pipeline->PreTokenize(text)) {
      if (specials.count(piece) != 0) continue;
      ++counts[std::move(piece)];
    }
  }
  std::vector<std::pair<std::string, int64_t>> words(counts.begin(), counts.end());
  std::sort(words.begin(), words.end());
  return words;
}

struct Word {
  std::vector<int32_t> symbols;
  int64_t count = 0;
};

struct Candidate {
  int64_t count;
  uint64_t pair;
};

struct Change {
  uint64_t pair;
  int64_t delta;
};

// Heap order: "a below b" when a has the lower count, or equal counts and a's (left bytes,
// right bytes) is lexicographically larger.
struct Below {
  const std::vector<std::string>* tokens;
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.count != b.count) return a.count < b.count;
    if (a.pair == b.pair) return false;
    const int left = (*tokens)[PairLeft(a.pair)].compare((*tokens)[PairLeft(b.pair)]);
    if (left != 0) return left > 0;
    return (*tokens)[PairRight(a.pair)].compare((*tokens)[PairRight(b.pair)]) > 0;
  }
};

// The merge loop. Owns the words and the pair tables; not thread-safe (one per call).
class Trainer {
 public:
  Trainer(std::vector<std::string> tokens, int64_t min_count)
      : tokens_(std::move(tokens)), min_count_(min_count), queue_(Below{&tokens_}) {
    for (size_t id = 0; id < tokens_.size(); ++id) {
      token_ids_.emplace(tokens_[id], static_cast<int32_t>(id));
    }
  }

  void SetWords(const std::vector<std::pair<std::string, int64_t>>& words) {
    std::array<int32_t, 256> byte_ids{};
    for (int32_t id = 0; id < 256; ++id) byte_ids[static_cast<uint8_t>(tokens_[id][0])] = id;
    for (const auto& [bytes, count] : words) {
      if (bytes.size() < 2) continue;  // no pair to merge
      Word word;
      word.count = count;
      word.symbols.reserve(bytes.size());
      for (char c : bytes) word.symbols.push_back(byte_ids[static_cast<uint8_t>(c)]);
      words_.push_back(std::move(word));
    }
    for (size_t w = 0; w < words_.size(); ++w) {
      const std::vector<int32_t>& s = words_[w].symbols;
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t key = PairKey(s[i], s[i + 1]);
        counts_[key] += words_[w].count;
        std::vector<int32_t>& where = where_[key];
        if (where.empty() || where.back() != static_cast<int32_t>(w)) {
          where.push_back(static_cast<int32_t>(w));
        }
      }
    }
    std::vector<Candidate> initial;
    initial.reserve(counts_.size());
    for (const auto& [key, count] : counts_) {
      if (count >= min_count_) initial.push_back({count, key});
    }
    queue_ = std::priority_queue<Candidate, std::vector<Candidate>, Below>(Below{&tokens_},
                                                                           std::move(initial));
  }

  // Merges until there are `target` tokens or no pair reaches the minimum count.
  void Run(size_t target) {
    while (tokens_.size() < target) {
      uint64_t pair = 0;
      if (!PopBest(&pair)) break;
      Merge(pair);
    }
  }

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merges_; }

 private:
  int64_t Count(uint64_t key) const {
    auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }

  // The most frequent pair (ties: smallest bytes) with at least min_count_ occurrences.
  bool PopBest(uint64_t* pair) {
    while (!queue_.empty()) {
      const Candidate top = queue_.top();
      queue_.pop();
      const int64_t current = Count(top.pair);
      if (top.count == current) {
        *pair = top.pair;
        return true;  // entries are pushed only at or above min_count_
      }
      // A lower current count: this entry is stale-high; requeue at the true count. A
      // higher one: an exact entry was pushed when it rose; drop this one.
      if (top.count > current && current >= min_count_) queue_.push({current, top.pair});
    }
    return false;
  }

  void Merge(uint64_t pair) {
    const int32_t left = PairLeft(pair), right = PairRight(pair);
    // Two different merges can spell the same bytes ("ab"+"c", "a"+"bc"); the second one
    // reuses the token, as the loader maps a merge to the token left+right.
    std::string bytes = tokens_[left] + tokens_[right];
    const auto [it, inserted] =
        token_ids_.try_emplace(std::move(bytes), static_cast<int32_t>(tokens_.size()));
    if (inserted) tokens_.push_back(it->first);
    const int32_t merged = it->second;
    merges_.emplace_back(left, right);

    std::vector<int32_t> where = std::move(where_[pair]);
    where_.erase(pair);
    std::sort(where.begin(), where.end());
    where.erase(std::unique(where.begin(), where.end()), where.end());
    delta_.clear();
    for (int32_t w : where) {
      Word& word = words_[w];
      std::vector<int32_t>& s = word.symbols;
      const size_t n = s.size();
      bool found = false;
      for (size_t i = 0; i + 1 < n && !found; ++i) found = s[i] == left && s[i + 1] == right;
      if (!found) continue;  // the index is a superset
      // Every pair of the word before and after the merge; the unchanged ones cancel when
      // the deltas are summed. Words are short, and this handles overlaps like "aaa" with
      // the pair (a, a) without special cases.
      for (size_t i = 0; i + 1 < n; ++i) delta_.push_back({PairKey(s[i], s[i + 1]), -word.count});
      size_t out = 0;
      for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == left && s[i + 1] == right) {
          s[out++] = merged;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
      for (size_t i = 0; i + 1 < out; ++i) {
        const uint64_t key = PairKey(s[i], s[i + 1]);
        delta_.push_back({key, word.count});
        // Pairs without the new token were already in this word and so in its index.
        if (s[i] == merged || s[i + 1] == merged) where_[key].push_back(w);
      }
    }
    std::sort(delta_.begin(), delta_.end(),
              [](const Change& a, const Change& b) { return a.pair < b.pair; });
    for (size_t i = 0; i < delta_.size();) {
      const uint64_t key = delta_[i].pair;
      int64_t change = 0;
      for (; i < delta_.size() && delta_[i].pair == key; ++i) change += delta_[i].delta;
      if (change == 0) continue;
      int64_t& count = counts_[key];
      count += change;
      QS_CHECK(count >= 0, "a pair count fell below zero");
      if (count == 0) {
        counts_.erase(key);
      } else if (change > 0 && count >= min_count_) {
        queue_.push({count, key});
      }
    }
    QS_CHECK(Count(pair) == 0, "a merge left an occurrence of its pair");
  }

  std::vector<std::string> tokens_;  // raw bytes by id
  std::unordered_map<std::string, int32_t> token_ids_;
  const int64_t min_count_;
  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> counts_;              // pair -> occurrences
  std::unordered_map<uint64_t, std::vector<int32_t>> where_;  // pair -> words (superset)
  std::priority_queue<Candidate, std::vector<Candidate>, Below> queue_;
  std::vector<std::pair<int32_t, int32_t>> merges_;
  std::vector<Change> delta_;  // (pair, count change) of one merge; reused
};

}  // namespace

StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts,
                                        const BpeTrainerOptions& options) {
  QS_RETURN_IF_ERROR(CheckOptions(options));
  std::vector<std::string> byte_tokens = ByteTokens();
  const std::string pattern =
      options.split_pattern.empty() ? std::string(kQwen2SplitPattern) : options.split_pattern;
  QS_ASSIGN_OR_RETURN(auto words, CountWords(texts, byte_tokens, options.special_tokens, pattern));
  Trainer trainer(std::move(byte_tokens), std::max<int64_t>(1, options.min_frequency));
  trainer.SetWords(words);
  words.clear();
  trainer.Run(static_cast<size_t>(options.vocab_size) - options.special_tokens.size());
  return WriteTokenizerJson(trainer.tokens(), trainer.merges(), options.special_tokens, pattern);
}

}  // namespace qs::model
