#include "runtime/structured/token_matcher.h"

#include <algorithm>
#include <cstring>

#include "base/utf8.h"

namespace qs::structured {

namespace {

constexpr size_t kMaxCacheEntries = 4096;

void SetBit(uint32_t* mask, int32_t id) { mask[id >> 5] |= 1u << (id & 31); }

// Code points of a token that is plain string content: whole, well-formed UTF-8 code points,
// none below U+0020, no '"' or '\\'. -1 otherwise (and for special tokens: no bytes).
int32_t PlainCodePoints(const std::string& bytes) {
  if (bytes.empty()) return -1;
  int32_t count = 0;
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint32_t cp = 0;
    if (!DecodeUtf8(bytes, &pos, &cp) || cp < 0x20 || cp == '"' || cp == '\\') return -1;
    ++count;
  }
  return count;
}

// The token bytes with the plain string-content tokens left out (empty = not in the trie).
std::vector<std::string> NonPlainTokens(const std::vector<std::string>& token_bytes) {
  std::vector<std::string> rest(token_bytes.size());
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if (PlainCodePoints(token_bytes[id]) < 0) rest[id] = token_bytes[id];
  }
  return rest;
}

}  // namespace

TokenMatcher::TokenMatcher(const std::vector<std::string>& token_bytes,
                           std::vector<int32_t> eos_ids)
    : token_bytes_(token_bytes),
      eos_ids_(std::move(eos_ids)),
      trie_(token_bytes),
      rest_trie_(NonPlainTokens(token_bytes)),
      vocab_size_(static_cast<int>(token_bytes.size())) {
  plain_code_points_.resize(token_bytes_.size());
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    plain_code_points_[id] = PlainCodePoints(token_bytes_[id]);
    max_plain_code_points_ = std::max(max_plain_code_points_, plain_code_points_[id]);
  }
  for (int32_t id : eos_ids_) vocab_size_ = std::max(vocab_size_, id + 1);
  for (int32_t id = 0; id < static_cast<int32_t>(token_bytes_.size()); ++id) {
    if (!token_bytes_[id].empty()) by_bytes_[token_bytes_[id]].push_back(id);
  }
}

bool TokenMatcher::IsEos(int32_t id) const {
  return std::find(eos_ids_.begin(), eos_ids_.end(), id) != eos_ids_.end();
}

void TokenMatcher::Walk(const JsonMatcher& state, int64_t budget_tokens, uint32_t* mask,
                        int64_t* max_close) {
  if (max_close != nullptr) *max_close = 0;
  std::memset(mask, 0, sizeof(uint32_t) * mask_words());
  const size_t levels = static_cast<size_t>(trie_.max_depth()) + 1;
  if (levels_.empty()) {
    levels_.assign(levels, state);
    tops_.resize(levels);
    base_.resize(levels);
    light_.resize(levels);
    plain_.resize(levels);
  }
  levels_[0] = state;
  base_[0] = 0;
  light_[0] = false;
  plain_[0] = state.InPlainString();
  if (plain_[0]) tops_[0] = state.top_frame();
  int depth_now = 0;
  // A "light" level is its base level with the string frame on top replaced: string
  // content (most of the vocabulary) then costs one frame copy per trie node.
  auto step = [&](uint8_t byte, int depth) {
    const int p = depth - 1;
    if (plain_[p] && byte != '"' && byte != '\\') {
      tops_[depth] = tops_[p];
      if (!levels_[base_[p]].StepStringFrame(&tops_[depth], byte)) return false;
      base_[depth] = base_[p];
      light_[depth] = true;
      plain_[depth] = true;
      depth_now = depth;
      return true;
    }
    levels_[depth] = levels_[base_[p]];
    if (light_[p]) levels_[depth].set_top_frame(tops_[p]);
    if (!levels_[depth].Advance(byte)) return false;
    base_[depth] = depth;
    light_[depth] = false;
    plain_[depth] = levels_[depth].InPlainString();
    if (plain_[depth]) tops_[depth] = levels_[depth].top_frame();
    depth_now = depth;
    return true;
  };
  auto accept = [&](int32_t id) {
    if (budget_tokens >= 0 || max_close != nullptr) {
      const JsonMatcher& m = levels_[base_[depth_now]];
      const int64_t close =
          light_[depth_now] ? m.MinBytesToCloseWithTop(tops_[depth_now]) : m.MinBytesToClose();
      if (budget_tokens >= 0 && close > budget_tokens - 1) return;
      if (max_close != nullptr) *max_close = std::max(*max_close, close);
    }
    SetBit(mask, id);
  };
  const TokenTrie* trie = &trie_;
  const int64_t room = string_fast_path_ ? state.PlainStringRoom() : -1;
  if (room >= 0) {
    // String content: the plain tokens from the precomputed mask, the others by a walk.
    const int64_t close = state.MinBytesToClose();
    if (room > 0 && (budget_tokens < 0 || close <= budget_tokens - 1)) {
      const std::vector<uint32_t>& plain = PlainStringMask(room);
      for (int w = 0; w < mask_words(); ++w) mask[w] = plain[w];
      if (max_close != nullptr) *max_close = std::max(*max_close, close);
    }
    trie = &rest_trie_;
  }
  trie->Walk(step, accept);
  if (state.IsComplete() && budget_tokens != 0) {
    for (int32_t id : eos_ids_) SetBit(mask, id);
  }
}

const std::vector<uint32_t>& TokenMatcher::PlainStringMask(int64_t room) {
  const int64_t key = std::min<int64_t>(room, max_plain_code_points_);
  auto it = plain_masks_.find(key);
  if (it != plain_masks_.end()) return it->second;
  std::vector<uint32_t> bits(static_cast<size_t>(mask_words()), 0);
  for (size_t id = 0; id < plain_code_points_.size(); ++id) {
    const int32_t n = plain_code_points_[id];
    if (n > 0 && n <= key) SetBit(bits.data(), static_cast<int32_t>(id));
  }
  return plain_masks_.emplace(key, std::move(bits)).first->second;
}

void TokenMatcher::FillMask(const JsonMatcher& state, uint32_t* mask) {
  key_.clear();
  state.AppendFingerprint(&key_);
  auto it = cache_.find(key_);
  if (it != cache_.end()) {
    std::memcpy(mask, it->second.bits.data(), sizeof(uint32_t) * mask_words());
    return;
  }
  Walk(state, -1, mask);
  if (cache_.size() >= kMaxCacheEntries) cache_.clear();
  cache_[key_] = CachedMask{std::vector<uint32_t>(mask, mask + mask_words()), -1};
}

void TokenMatcher::FillMaskWithBudget(const JsonMatcher& state, int64_t budget_tokens,
                                      uint32_t* mask) {
  key_.clear();
  state.AppendFingerprint(&key_);
  auto it = cache_.find(key_);
  if (it == cache_.end() || it->second.max_close < 0) {
    int64_t max_close = 0;
    Walk(state, -1, mask, &max_close);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    it = cache_
             .insert_or_assign(
                 key_, CachedMask{std::vector<uint32_t>(mask, mask + mask_words()), max_close})
             .first;
  }
  // EOS (allowed on a complete document) needs budget_tokens >= 1; every other allowed token
  // needs its closing distance <= budget_tokens - 1.
  if (budget_tokens >= 1 && it->second.max_close <= budget_tokens - 1) {
    std::memcpy(mask, it->second.bits.data(), sizeof(uint32_t) * mask_words());
    return;
  }
  Walk(state, budget_tokens, mask);
}

const std::vector<int32_t>& TokenMatcher::TokensWithBytes(const std::string& bytes) const {
  static const std::vector<int32_t> kNone;
  auto it = by_bytes_.find(bytes);
  return it == by_bytes_.end() ? kNone : it->second;
}

bool TokenMatcher::AcceptToken(JsonMatcher* state, int32_t id) const {
  if (IsEos(id)) return state->IsComplete();
  if (id < 0 || id >= static_cast<int32_t>(token_bytes_.size())) return false;
  const std::string& bytes = token_bytes_[id];
  if (bytes.empty()) return false;
  return state->AdvanceBytes(bytes);
}

bool ConstrainedSequence::Accept(int32_t id) {
  JsonMatcher next = history_.back();
  if (!matcher_->AcceptToken(&next, id)) return false;
  history_.push_back(std::move(next));
  return true;
}

void ConstrainedSequence::Rollback(int n) {
  n = std::min(n, tokens());
  history_.resize(history_.size() - static_cast<size_t>(n), history_.front());
}

}  // namespace qs::structured
