#include "model/tokenizer/bpe.h"

#include <queue>

namespace qs::model {

Bpe::Bpe(const std::array<int32_t, 256>& byte_ids, Options options)
    : byte_ids_(byte_ids), options_(options) {}

void Bpe::AddMerge(int32_t left, int32_t right, int32_t merged) {
  merges_[PairKey(left, right)] = Merge{next_rank_++, merged};
}

void Bpe::AddWord(const std::string& bytes, int32_t id) { words_.emplace(bytes, id); }

void Bpe::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    auto it = words_.find(std::string(word));
    if (it != words_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (word.size() == 1) {
    const int32_t id = byte_ids_[static_cast<uint8_t>(word[0])];
    if (id >= 0) {
      out->push_back(id);
    } else if (options_.unk_id >= 0) {
      out->push_back(options_.unk_id);
    }
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  std::string key;
  if (cacheable) {
    key.assign(word);
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out->size();
  MergeWord(word, out);
  if (cacheable) {
    std::vector<int32_t> ids(out->begin() + static_cast<std::ptrdiff_t>(before), out->end());
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::move(key), std::move(ids));
  }
}

void Bpe::MergeWord(std::string_view word, std::vector<int32_t>* out) const {
  // Symbols form a doubly linked list over the word's bytes; a merged symbol keeps the
  // left one's slot, so slot order is text order and breaks rank ties leftmost-first.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  bool last_was_unk = false;
  for (char c : word) {
    int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id < 0) {
      if (options_.unk_id < 0) continue;  // no unk token: the byte is dropped
      if (options_.fuse_unk && last_was_unk) continue;
      id = options_.unk_id;
      last_was_unk = true;
    } else {
      last_was_unk = false;
    }
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{id, index - 1, index + 1, true});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left;
    int32_t right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  const auto push_pair = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    auto it = merges_.find(PairKey(symbols[pos].id, symbols[next].id));
    if (it != merges_.end()) {
      heap.push(Candidate{it->second.rank, pos, symbols[pos].id, symbols[next].id});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) push_pair(i);

  while (!heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    Symbol& left = symbols[top.pos];
    // Entries go stale when a neighbour merged first; the ids tell.
    if (!left.alive || left.id != top.left || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (right.id != top.right) continue;
    left.id = merges_.find(PairKey(top.left, top.right))->second.merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out->push_back(symbols[i].id);
}

}  // namespace qs::model
