#include "runtime/structured/schema_constraint.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace qs::structured {

namespace {

class Timer {
 public:
  explicit Timer(double* total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Timer() {
    *total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  double* total_;
  std::chrono::steady_clock::time_point start_;
};

bool Allowed(const std::vector<uint32_t>& mask, int32_t id) {
  return id >= 0 && static_cast<size_t>(id >> 5) < mask.size() &&
         ((mask[static_cast<size_t>(id >> 5)] >> (id & 31)) & 1u) != 0;
}

}  // namespace

SchemaConstraint::SchemaConstraint(TokenMatcher* matcher,
                                   std::shared_ptr<const JsonGrammar> grammar, int32_t eos_id)
    : matcher_(matcher), grammar_(grammar), state_(grammar), eos_id_(eos_id) {
  mask_.resize(static_cast<size_t>(matcher_->mask_words()));
}

Status SchemaConstraint::StartAfter(std::string_view bytes) {
  if (!state_.AdvanceBytes(bytes)) {
    return InvalidArgument("the schema does not accept a document starting with '" +
                           std::string(bytes) + "'");
  }
  return Status::Ok();
}

Status SchemaConstraint::CheckBudget(int64_t tokens) const {
  const int64_t need = state_.MinBytesToClose();
  if (need >= JsonMatcher::kUnreachable) {
    return InvalidArgument("the schema admits no document the decoder can write");
  }
  if (need > tokens) {
    return OutOfRange("the shortest valid document needs " + std::to_string(need) +
                      " tokens, but only " + std::to_string(tokens) +
                      " are available (raise --max-tokens / gen_length to at least " +
                      std::to_string(need) + ")");
  }
  return Status::Ok();
}

int64_t SchemaConstraint::Frontier(const model::CanvasView& canvas) const {
  for (int64_t p = canvas.prompt_length; p < canvas.length; ++p) {
    if (canvas.masked(p)) return p;
  }
  return canvas.length;
}

Status SchemaConstraint::ForcedTokens(const model::CanvasView& canvas,
                                      std::vector<model::TokenCommit>* forced) {
  Timer timer(&stats_.constraint_seconds);
  const int64_t frontier = Frontier(canvas);
  if (frontier >= canvas.length) return Status::Ok();
  if (state_.IsComplete()) {
    // In GENERATE mode nothing follows a complete document but its end.
    bool can_continue = false;
    for (int b = 0; b < 256 && !can_continue; ++b) {
      JsonMatcher next = state_;
      can_continue = next.Advance(static_cast<uint8_t>(b));
    }
    if (!can_continue) {
      forced->push_back({frontier, eos_id_});
      forcing_ = true;
      return Status::Ok();
    }
  }
  const std::string bytes = state_.ForcedBytes();
  if (bytes.empty()) return Status::Ok();
  // The longest token spelling a prefix of the forced bytes that the mask allows.
  const int64_t budget = canvas.length - frontier;
  matcher_->FillMaskWithBudget(state_, budget, mask_.data());
  ++stats_.masks;
  int32_t best = -1;
  for (size_t len = bytes.size(); len > 0 && best < 0; --len) {
    for (int32_t id : matcher_->TokensWithBytes(bytes.substr(0, len))) {
      if (Allowed(mask_, id)) {
        best = id;
        break;
      }
    }
  }
  if (best >= 0) {
    forced->push_back({frontier, best});
    forcing_ = true;
  }
  return Status::Ok();
}

bool SchemaConstraint::MayCommit(const model::CanvasView& canvas, int64_t position) {
  const int64_t frontier = Frontier(canvas);
  return parallel_threshold_ <= 1.0 ? position >= frontier : position == frontier;
}

bool SchemaConstraint::AllowedTokens(const model::CanvasView& canvas, int64_t position, int vocab,
                                     uint32_t* words) {
  // Past the frontier the state is unknown until the earlier tokens are chosen; those
  // proposals are checked in ChooseCommits.
  if (position != Frontier(canvas)) return false;
  Timer timer(&stats_.constraint_seconds);
  const int64_t budget = canvas.length - position;
  matcher_->FillMaskWithBudget(state_, budget, mask_.data());
  ++stats_.masks;
  const size_t n = std::min(mask_.size(), static_cast<size_t>((vocab + 31) / 32));
  std::memcpy(words, mask_.data(), n * sizeof(uint32_t));
  // Tokens the tokenizer does not know (padding rows of the model's vocabulary) stay 0.
  if (static_cast<size_t>(vocab) > static_cast<size_t>(matcher_->vocab_size()) &&
      n == mask_.size() && (matcher_->vocab_size() & 31) != 0) {
    words[n - 1] &= (1u << (matcher_->vocab_size() & 31)) - 1;
  }
  return true;
}

void SchemaConstraint::ChooseCommits(const model::CanvasView& canvas,
                                     const std::vector<model::ProposedToken>& proposals,
                                     std::vector<int64_t>* chosen) {
  Timer timer(&stats_.constraint_seconds);
  chosen->clear();
  const int64_t frontier = Frontier(canvas);
  JsonMatcher state = state_;
  int64_t expect = frontier;
  for (size_t j = 0; j < proposals.size(); ++j) {
    const model::ProposedToken& p = proposals[j];
    if (p.position < expect) continue;
    if (p.position > expect) break;  // a gap: the run ends
    // The frontier's token came from the grammar's mask; later ones must earn their place.
    if (p.position != frontier) {
      if (p.confidence < parallel_threshold_) break;
      if (p.token == eos_id_ || matcher_->IsEos(p.token)) {
        if (!state.IsComplete()) break;
        chosen->push_back(static_cast<int64_t>(j));
        break;  // the rest is EOS fill
      }
      JsonMatcher next = state;
      if (!matcher_->AcceptToken(&next, p.token)) break;
      if (next.MinBytesToClose() > canvas.length - p.position - 1) break;
      state = next;
    } else if (!(p.token == eos_id_ || matcher_->IsEos(p.token))) {
      matcher_->AcceptToken(&state, p.token);
    } else {
      chosen->push_back(static_cast<int64_t>(j));
      break;
    }
    chosen->push_back(static_cast<int64_t>(j));
    ++expect;
  }
}

Status SchemaConstraint::OnCommit(const model::CanvasView& canvas,
                                  const std::vector<model::TokenCommit>& commits) {
  Timer timer(&stats_.constraint_seconds);
  for (const model::TokenCommit& c : commits) {
    if (c.token == eos_id_ || matcher_->IsEos(c.token)) {
      if (!state_.IsComplete()) {
        return Internal("EOS committed at position " + std::to_string(c.position) +
                        " before the JSON document was complete");
      }
      continue;
    }
    if (!matcher_->AcceptToken(&state_, c.token)) {
      return Internal("token " + std::to_string(c.token) + " at position " +
                      std::to_string(c.position) + " breaks the grammar (constraint bug)");
    }
    if (forcing_) {
      ++stats_.forced_tokens;
    } else {
      ++stats_.model_tokens;
    }
  }
  forcing_ = false;
  return Status::Ok();
}

}  // namespace qs::structured
