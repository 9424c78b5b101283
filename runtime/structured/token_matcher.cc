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

// The token bytes of the plain string-content tokens (plain = true) or of the others; the
// tokens left out have no bytes (not in the trie).
std::vector<std::string> TokensWhere(const std::vector<std::string>& token_bytes, bool plain) {
  std::vector<std::string> kept(token_bytes.size());
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    if ((PlainCodePoints(token_bytes[id]) >= 0) == plain) kept[id] = token_bytes[id];
  }
  return kept;
}

}  // namespace

TokenMatcher::TokenMatcher(const std::vector<std::string>& token_bytes,
                           std::vector<int32_t> eos_ids)
    : token_bytes_(token_bytes),
      eos_ids_(std::move(eos_ids)),
      trie_(token_bytes),
      plain_trie_(TokensWhere(token_bytes, true)),
      rest_trie_(TokensWhere(token_bytes, false)),
      vocab_size_(static_cast<int>(token_bytes.size())) {
  plain_code_points_.resize(token_bytes_.size());
  for (size_t id = 0; id < token_bytes_.size(); ++id) {
    plain_code_points_[id] = PlainCodePoints(token_bytes_[id]);
    max_plain_code_points_ = std::max(max_plain_code_points_, plain_code_points_[id]);
  }
  for (const std::string& bytes : token_bytes_) {
    int32_t points = 0;
    for (char c : bytes) points += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
    max_token_code_points_ = std::max(max_token_code_points_, points);
  }
  PlainStringMask(0);  // built now: a per-vocabulary table, like the tries
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
    keeps_text_.resize(levels);
    path_.resize(levels);
  }
  levels_[0] = state;
  base_[0] = 0;
  light_[0] = false;
  plain_[0] = state.InPlainString();
  keeps_text_[0] = plain_[0] && state.PlainStringKeepsText();
  if (plain_[0]) tops_[0] = state.top_frame();
  int depth_now = 0;
  // A "light" level is its base level with the string frame on top replaced: string
  // content (most of the vocabulary) then costs one frame copy per trie node.
  auto step = [&](uint8_t byte, int depth) {
    const int p = depth - 1;
    path_[depth] = static_cast<char>(byte);
    if (plain_[p] && byte != '"' && byte != '\\') {
      tops_[depth] = tops_[p];
      if (!levels_[base_[p]].StepStringFrame(&tops_[depth], byte)) return false;
      base_[depth] = base_[p];
      light_[depth] = true;
      plain_[depth] = true;
      depth_now = depth;
      return true;
    }
    const int base = base_[p];
    levels_[depth] = levels_[base];
    if (light_[p]) {
      levels_[depth].set_top_frame(tops_[p]);
      // The light steps were raw content bytes (no escapes): they are the text to keep.
      if (keeps_text_[base]) {
        levels_[depth].AppendStringText(std::string_view(path_).substr(base + 1, p - base));
      }
    }
    if (!levels_[depth].Advance(byte)) return false;
    base_[depth] = depth;
    light_[depth] = false;
    plain_[depth] = levels_[depth].InPlainString();
    keeps_text_[depth] = plain_[depth] && levels_[depth].PlainStringKeepsText();
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
  content_key_.clear();
  if (room < 0 && string_fast_path_ && budget_tokens < 0 && max_close == nullptr &&
      state.StringContentKey(max_plain_code_points_, &content_key_)) {
    // A pattern / format string: its plain tokens from the cache (walked once per string
    // state), then only the others.
    auto it = string_content_cache_.find(content_key_);
    if (it == string_content_cache_.end()) {
      JsonMatcher::StringScan scan;
      if (state.GetStringScan(&scan)) {
        ScanPlainTokens(scan, mask);
      } else {
        plain_trie_.Walk(step, accept);
      }
      if (string_content_cache_.size() >= kMaxCacheEntries) string_content_cache_.clear();
      it = string_content_cache_
               .emplace(content_key_, std::vector<uint32_t>(mask, mask + mask_words()))
               .first;
    } else {
      std::memcpy(mask, it->second.data(), sizeof(uint32_t) * mask_words());
    }
    trie = &rest_trie_;
  } else if (room == 0) {
    trie = &rest_trie_;  // no plain string token fits
  } else if (room > 0) {
    // String content: the plain tokens come from the precomputed mask and only the others
    // are walked. A one-code-point token leaves the document farthest from its end, so
    // when that still fits the budget, every plain token does; otherwise walk them all.
    JsonMatcher one = state;
    const int64_t close = one.Advance('a') ? one.MinBytesToClose() : JsonMatcher::kUnreachable;
    if (close < JsonMatcher::kUnreachable && (budget_tokens < 0 || close <= budget_tokens - 1)) {
      const std::vector<uint32_t>& plain = PlainStringMask(room);
      for (int w = 0; w < mask_words(); ++w) mask[w] = plain[w];
      if (max_close != nullptr) *max_close = std::max(*max_close, close);
      trie = &rest_trie_;
    }
  }
  trie->Walk(step, accept);
  if (state.IsComplete() && budget_tokens != 0) {
    for (int32_t id : eos_ids_) SetBit(mask, id);
  }
}

void TokenMatcher::ScanPlainTokens(const JsonMatcher::StringScan& scan, uint32_t* mask) {
  const std::vector<TokenTrie::Node>& nodes = plain_trie_.nodes();
  scan_levels_.resize(static_cast<size_t>(plain_trie_.max_depth()) + 1);
  scan_levels_[0] = ScanLevel{scan.q, 0, 0, 0};
  const CodepointDfa* dfa = scan.dfa;
  const int32_t* table = dfa != nullptr ? dfa->ascii_table() : nullptr;
  bool ascii_ok[128];
  for (uint32_t c = 0; c < 128; ++c) {
    ascii_ok[c] = !scan.format || json_schema::FormatMayContain(*scan.format, c);
  }
  // A whole non-ASCII code point (formats never get here: their alphabets are ASCII, so
  // the lead byte was refused): the room, the DFA.
  auto complete = [&](uint32_t cp, ScanLevel* level) {
    if (level->points >= scan.room) return false;
    if (dfa != nullptr) {
      level->q = dfa->Next(level->q, cp);
      if (level->q < 0) return false;
    }
    ++level->points;
    return true;
  };
  size_t i = 0;
  while (i < nodes.size()) {
    const TokenTrie::Node& n = nodes[i];
    ScanLevel level = scan_levels_[n.depth - 1];
    const uint8_t b = n.byte;
    bool ok;
    if (level.need > 0) {  // plain tokens are valid UTF-8: b is a continuation byte
      level.cp = (level.cp << 6) | (b & 0x3Fu);
      ok = --level.need > 0 || complete(level.cp, &level);
    } else if (b < 0x80) {  // most nodes: one table lookup (a finished DFA has the table)
      ok = ascii_ok[b] && level.points < scan.room;
      if (ok && table != nullptr) {
        level.q = table[static_cast<size_t>(level.q) * 128 + b];
        ok = level.q >= 0;
      }
      ++level.points;
    } else {
      // A lead byte: a non-ASCII code point must be possible here at all.
      level.need = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
      level.cp = b & (level.need == 1 ? 0x1Fu : level.need == 2 ? 0x0Fu : 0x07u);
      ok = level.points < scan.room && !scan.format &&
           (dfa == nullptr || dfa->HasTransitionIn(level.q, 0x80, kMaxCodepoint));
    }
    if (!ok) {
      i = n.subtree_end;
      continue;
    }
    scan_levels_[n.depth] = level;
    const int32_t* ids = plain_trie_.TokensAt(n);
    for (int k = 0; k < n.num_tokens; ++k) SetBit(mask, ids[k]);
    ++i;
  }
}

const std::vector<uint32_t>& TokenMatcher::PlainStringMask(int64_t room) {
  if (plain_masks_.empty()) {
    // Built once, for every count: the mask for room r adds the tokens of exactly r code
    // points to the mask for r - 1 (a few MB for 151k tokens).
    std::vector<std::vector<int32_t>> by_count(static_cast<size_t>(max_plain_code_points_) + 1);
    for (size_t id = 0; id < plain_code_points_.size(); ++id) {
      if (plain_code_points_[id] > 0)
        by_count[plain_code_points_[id]].push_back(static_cast<int32_t>(id));
    }
    plain_masks_.resize(by_count.size());
    std::vector<uint32_t> bits(static_cast<size_t>(mask_words()), 0);
    for (size_t r = 0; r < by_count.size(); ++r) {
      for (int32_t id : by_count[r]) SetBit(bits.data(), id);
      plain_masks_[r] = bits;
    }
  }
  return plain_masks_[static_cast<size_t>(std::min<int64_t>(room, max_plain_code_points_))];
}

void TokenMatcher::FillMask(const JsonMatcher& state, uint32_t* mask) {
  key_.clear();
  state.AppendMaskKey(max_token_code_points_, &key_);
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
  state.AppendMaskKey(max_token_code_points_, &key_);
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
