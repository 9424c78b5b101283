#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernels.h"

namespace qs::model {

namespace {

at::Tensor LongTensor(const std::vector<int64_t>& values) {
  return at::tensor(c10::ArrayRef<int64_t>(values), at::TensorOptions().dtype(at::kLong));
}

}  // namespace

StatusOr<at::Tensor> LogitsSource::LogitsAt(const at::Tensor& ids,
                                            const std::vector<int64_t>& rows) {
  QS_ASSIGN_OR_RETURN(at::Tensor all, Logits(ids));
  return all.index_select(1, LongTensor(rows).to(all.device()));
}

StatusOr<at::Tensor> TransformerLogits::Logits(const at::Tensor& ids) {
  return model_.Forward(ids).logits;
}

StatusOr<at::Tensor> TransformerLogits::LogitsAt(const at::Tensor& ids,
                                                 const std::vector<int64_t>& rows) {
  if (full_lm_head_) return LogitsSource::LogitsAt(ids, rows);
  ForwardOptions fo;
  fo.logit_positions = LongTensor(rows);
  return model_.Forward(ids, fo).logits;
}

void CachedTransformerLogits::BeginScope(int64_t begin, int64_t end) {
  begin_ = begin;
  end_ = end;
  refresh_ = true;
}

StatusOr<at::Tensor> CachedTransformerLogits::Logits(const at::Tensor& ids) {
  std::vector<int64_t> rows(static_cast<size_t>(ids.size(1)));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  return LogitsAt(ids, rows);
}

StatusOr<at::Tensor> CachedTransformerLogits::LogitsAt(const at::Tensor& ids,
                                                       const std::vector<int64_t>& rows) {
  const int64_t length = ids.size(1);
  if (rows.empty() || rows.front() < 0 || rows.back() >= length) {
    return InvalidArgument("logits asked for no row or for a row outside the canvas");
  }
  const at::Tensor positions = LongTensor(rows);
  // full_lm_head: every row of the computed range, then the asked ones (benchmarks).
  auto select = [&](const at::Tensor& logits, int64_t begin) {
    return full_lm_head_ ? logits.index_select(1, positions.to(logits.device()) - begin) : logits;
  };
  const at::Tensor asked = full_lm_head_ ? at::Tensor() : positions;
  const bool same_shape = cached_batch_ == ids.size(0) && cached_length_ == length;
  if (mode_ == KvCache::kNone || refresh_ || !same_shape || begin_ >= end_ || end_ > length) {
    at::Tensor logits = select(model_.ForwardRange(ids, 0, length, &cache_, true, asked), 0);
    cached_batch_ = ids.size(0);
    cached_length_ = length;
    ++full_forwards_;
    refresh_ = false;
    return logits;
  }
  const int64_t begin = std::min(begin_, rows.front());
  const int64_t end = std::max(mode_ == KvCache::kDual ? end_ : length, rows.back() + 1);
  return select(model_.ForwardRange(ids, begin, end, &cache_, /*store=*/false, asked), begin);
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The masked positions of one row that may be committed in this step.
struct Candidates {
  std::vector<int64_t> positions;
  at::Tensor disallowed;  // [N, V] bool on the CPU; undefined when no token is restricted
};

// The model's choice at the candidates of one row.
struct Proposal {
  std::vector<int64_t> positions;
  at::Tensor tokens;      // [N] int64, CPU
  at::Tensor confidence;  // [N] CPU, in the dtype the reference ranks in (float32 / float64)
};

// One run of a sampler. The canvas lives on the CPU (it is small); the logits stay on the
// device the source returned them on and only per-position results come back.
class Denoiser {
 public:
  Denoiser(const SamplerConfig& config, LogitsSource& source, Constraint* constraint,
           StepObserver* observer)
      : c_(config),
        source_(source),
        constraint_(constraint),
        observer_(observer),
        gen_(at::detail::createCPUGenerator(config.seed)) {}

  StatusOr<SamplerResult> Run(const at::Tensor& prompt);

 private:
  Status RunBlocks();
  Status RunDream();
  Status RunDreamConfidenceThreshold();
  // Steps that commit every committable masked position before `hi` until [lo, hi) has no
  // masked position left (only needed when a constraint held positions back).
  Status FinishScope(int64_t lo, int64_t hi);

  int64_t* Row(int64_t b) { return x_.data_ptr<int64_t>() + b * length_; }
  int64_t CountMasks(int64_t b, int64_t lo, int64_t hi);
  int64_t CountMasksAllRows(int64_t lo, int64_t hi);
  void RefreshView();

  // Commits the constraint's forced tokens until it forces no more.
  Status ApplyForced();
  // Per row, the masked positions before `hi` that may be committed now, with their
  // bitmasks. Fails when a row has masked positions in [lo, hi) but none may be committed.
  StatusOr<std::vector<Candidates>> FindCandidates(int64_t lo, int64_t hi);
  // Logits [B, R, V] in float32 for the current canvas at the rows the candidates read
  // (row_of_ maps a candidate position to its row; Dream's shift is applied by reading
  // the row of the position before), with guidance applied.
  StatusOr<at::Tensor> CallModel(const std::vector<Candidates>& cands);
  // Tokens and confidences at the candidates of row b, as the configured sampler picks them.
  Proposal Propose(const at::Tensor& logits, int64_t b, const Candidates& cand);
  // Dream's sample_tokens: token and confidence per row of `logits` [N, V].
  std::pair<at::Tensor, at::Tensor> DreamSampleTokens(at::Tensor logits, DreamAlg alg);
  // The k most confident candidates (indices into p.positions), most confident first.
  std::vector<int64_t> RankTop(const Proposal& p, int64_t k);
  Status Commit(int64_t b, const Proposal& p, const std::vector<int64_t>& chosen);
  Status CommitTokens(int64_t b, std::vector<TokenCommit> commits);
  // After a model call: the EOS fill, then the observer.
  Status EndStep();
  void Report();
  bool AllDone() { return CountMasksAllRows(0, length_) == 0; }

  const SamplerConfig& c_;
  LogitsSource& source_;
  Constraint* constraint_;
  StepObserver* observer_;
  at::Generator gen_;

  at::Tensor x_;             // [B, L] int64, CPU, contiguous
  at::Tensor prompt_index_;  // [B, L] bool: prompt tokens (masked in the CFG canvas)
  int64_t batch_ = 0, prompt_length_ = 0, length_ = 0, vocab_ = 0;
  std::vector<int64_t> row_of_;       // [L]: canvas position -> row of the last logits
  std::vector<int32_t> view_tokens_;  // row 0 for the constraint
  CanvasView view_;
  int64_t steps_ = 0, model_calls_ = 0;
  bool filled_ = false;   // the EOS fill committed positions the schedule would have denoised
  bool changed_ = false;  // canvas changed since the observer last saw it
};

StatusOr<SamplerResult> Denoiser::Run(const at::Tensor& prompt) {
  if (prompt.dim() != 2 || prompt.scalar_type() != at::kLong) {
    return InvalidArgument("the prompt must be a [batch, length] int64 tensor");
  }
  batch_ = prompt.size(0);
  prompt_length_ = prompt.size(1);
  length_ = prompt_length_ + c_.gen_length;
  vocab_ = source_.vocab_size();
  QS_RETURN_IF_ERROR(ValidateSamplerConfig(c_, prompt_length_, vocab_));
  if (batch_ <= 0) return InvalidArgument("the prompt batch is empty");
  if (constraint_ != nullptr && batch_ != 1) {
    return InvalidArgument("a constraint applies to one sequence; got a batch of " +
                           std::to_string(batch_) + " prompts");
  }
  at::Tensor p = prompt.to(at::kCPU);
  if (p.min().item<int64_t>() < 0 || p.max().item<int64_t>() >= vocab_) {
    return InvalidArgument("prompt token ids must be in [0, " + std::to_string(vocab_) + ")");
  }
  x_ = at::full({batch_, length_}, c_.mask_id, at::TensorOptions().dtype(at::kLong));
  x_.narrow(1, 0, prompt_length_).copy_(p);
  // LLaDA: prompt_index = (x != mask_id) on the initial canvas.
  prompt_index_ = x_.ne(c_.mask_id);
  view_tokens_.assign(static_cast<size_t>(length_), 0);
  view_ = {view_tokens_.data(), length_, prompt_length_, static_cast<int32_t>(c_.mask_id)};

  if (c_.kind == SamplerKind::kDream) {
    source_.BeginScope(prompt_length_, length_);
    QS_RETURN_IF_ERROR(c_.alg == DreamAlg::kConfidenceThreshold ? RunDreamConfidenceThreshold()
                                                                : RunDream());
  } else {
    QS_RETURN_IF_ERROR(RunBlocks());
  }
  QS_RETURN_IF_ERROR(ApplyForced());
  Report();
  SamplerResult result;
  result.canvas = x_;
  result.steps = steps_;
  result.model_calls = model_calls_;
  result.stopped_early = filled_;
  return result;
}

// LLaDA generate.py and Fast-dLLM llada/generate.py: semi-autoregressive blocks; positions
// after the current block never commit.
Status Denoiser::RunBlocks() {
  const int64_t block = EffectiveBlockLength(c_);
  const int64_t blocks = c_.gen_length / block;
  const int64_t steps_per_block = c_.steps / blocks;
  for (int64_t nb = 0; nb < blocks; ++nb) {
    const int64_t lo = prompt_length_ + nb * block, hi = lo + block;
    source_.BeginScope(lo, hi);
    // LLaDA's get_num_transfer_tokens: the block's masks split evenly over its steps, the
    // first (masks % steps) steps taking one more.
    std::vector<std::vector<int64_t>> schedule(static_cast<size_t>(batch_));
    for (int64_t b = 0; b < batch_; ++b) {
      const int64_t m = CountMasks(b, lo, hi);
      auto& s = schedule[static_cast<size_t>(b)];
      s.assign(static_cast<size_t>(steps_per_block), m / steps_per_block);
      for (int64_t i = 0; i < m % steps_per_block; ++i) ++s[static_cast<size_t>(i)];
    }
    const bool threshold = c_.kind == SamplerKind::kFastDllmThreshold;
    // Fast-dLLM steps until the block is full; LLaDA runs its schedule.
    for (int64_t i = 0; threshold || i < steps_per_block; ++i) {
      QS_RETURN_IF_ERROR(ApplyForced());
      if (CountMasksAllRows(lo, hi) == 0) break;
      std::vector<int64_t> quota(static_cast<size_t>(batch_), 0);
      bool any = false;
      for (int64_t b = 0; b < batch_; ++b) {
        const size_t sb = static_cast<size_t>(b);
        quota[sb] = threshold ? CountMasks(b, 0, hi) : schedule[sb][static_cast<size_t>(i)];
        any = any || quota[sb] > 0;
      }
      if (!any) continue;  // the reference would call the model and commit nothing
      const int64_t masks_before = CountMasksAllRows(lo, hi);
      QS_ASSIGN_OR_RETURN(std::vector<Candidates> cands, FindCandidates(lo, hi));
      QS_ASSIGN_OR_RETURN(at::Tensor logits, CallModel(cands));
      for (int64_t b = 0; b < batch_; ++b) {
        const Candidates& cand = cands[static_cast<size_t>(b)];
        if (cand.positions.empty()) continue;
        Proposal p = Propose(logits, b, cand);
        const int64_t n = static_cast<int64_t>(p.positions.size());
        std::vector<int64_t> chosen;
        if (threshold) {
          // Fast-dLLM get_transfer_index: the most confident always, then every other
          // candidate whose float64 confidence reaches the threshold.
          std::vector<int64_t> ranked = RankTop(p, n);
          at::Tensor conf64 = p.confidence.to(at::kDouble);  // float32 for random remasking
          const double* conf = conf64.data_ptr<double>();
          for (size_t k = 0; k < ranked.size(); ++k) {
            if (k == 0 || conf[ranked[k]] >= c_.threshold) chosen.push_back(ranked[k]);
          }
        } else {
          chosen = RankTop(p, std::min(quota[static_cast<size_t>(b)], n));
        }
        QS_RETURN_IF_ERROR(Commit(b, p, chosen));
      }
      // Threshold steps run until the block is full: a step that commits nothing (a
      // constraint that rejects every proposal) would repeat forever.
      if (threshold && CountMasksAllRows(lo, hi) == masks_before) {
        return FailedPrecondition("denoising made no progress in the block at positions " +
                                  std::to_string(lo) + "-" + std::to_string(hi - 1) +
                                  ": the constraint took none of the model's proposals");
      }
      QS_RETURN_IF_ERROR(EndStep());
      if (AllDone()) return Status::Ok();
    }
    QS_RETURN_IF_ERROR(FinishScope(lo, hi));
    if (AllDone()) return Status::Ok();
  }
  return Status::Ok();
}

// Dream's _sample (maskgit_plus, topk_margin, entropy, origin): the whole answer at once;
// timesteps = linspace(1, eps, steps + 1); step i moves from t = ts[i] to s = ts[i + 1].
Status Denoiser::RunDream() {
  // float32, as torch.linspace builds it.
  at::Tensor ts = at::linspace(1.0, c_.eps, c_.steps + 1, at::TensorOptions().dtype(at::kFloat));
  const float* t = ts.data_ptr<float>();
  for (int64_t i = 0; i < c_.steps; ++i) {
    QS_RETURN_IF_ERROR(ApplyForced());
    if (AllDone()) return Status::Ok();
    const bool last = i == c_.steps - 1;
    // Dream computes 1 - s / t on 0-dim float32 tensors; the same float32 operations here.
    const float s_over_t = t[i + 1] / t[i];
    const float p_transfer = 1.0f - s_over_t;
    int64_t count = 0;
    if (c_.alg != DreamAlg::kOrigin) {
      // num_mask_token = mask_index.sum() / batch (float32); int() truncates.
      const float avg =
          static_cast<float>(CountMasksAllRows(0, length_)) / static_cast<float>(batch_);
      count = last ? static_cast<int64_t>(avg) : static_cast<int64_t>(avg * p_transfer);
      if (count <= 0) continue;  // the reference would call the model and commit nothing
    }
    QS_ASSIGN_OR_RETURN(std::vector<Candidates> cands, FindCandidates(0, length_));
    QS_ASSIGN_OR_RETURN(at::Tensor logits, CallModel(cands));
    for (int64_t b = 0; b < batch_; ++b) {
      Candidates& cand = cands[static_cast<size_t>(b)];
      if (cand.positions.empty()) continue;
      std::vector<int64_t> chosen;
      if (c_.alg == DreamAlg::kOrigin) {
        // Each masked position is revealed with probability 1 - s / t (all at the last step);
        // tokens are drawn for the revealed ones only.
        at::Tensor u = at::rand({static_cast<int64_t>(cand.positions.size())}, gen_);
        const float* up = u.data_ptr<float>();
        Candidates revealed;
        std::vector<int64_t> rows;
        for (size_t k = 0; k < cand.positions.size(); ++k) {
          if (last || up[k] < p_transfer) {
            revealed.positions.push_back(cand.positions[k]);
            rows.push_back(static_cast<int64_t>(k));
          }
        }
        if (revealed.positions.empty()) continue;
        if (cand.disallowed.defined()) {
          revealed.disallowed = cand.disallowed.index_select(0, LongTensor(rows));
        }
        Proposal p = Propose(logits, b, revealed);
        for (size_t k = 0; k < p.positions.size(); ++k) chosen.push_back(static_cast<int64_t>(k));
        QS_RETURN_IF_ERROR(Commit(b, p, chosen));
        continue;
      }
      Proposal p = Propose(logits, b, cand);
      const int64_t k = std::min(count, static_cast<int64_t>(p.positions.size()));
      if (c_.alg_temp > 0) {
        // Positions drawn without replacement from softmax(confidence / alg_temp) over the
        // row (-inf elsewhere).
        at::Tensor full = at::full({length_}, -kInf, p.confidence.options());
        full.index_put_({LongTensor(p.positions)}, p.confidence);
        at::Tensor probs = at::softmax(full / c_.alg_temp, -1);
        at::Tensor picked = at::multinomial(probs, k, /*replacement=*/false, gen_);
        std::vector<int64_t> index_of(static_cast<size_t>(length_), -1);
        for (size_t j = 0; j < p.positions.size(); ++j) {
          index_of[static_cast<size_t>(p.positions[j])] = static_cast<int64_t>(j);
        }
        const int64_t* pp = picked.data_ptr<int64_t>();
        for (int64_t j = 0; j < k; ++j) chosen.push_back(index_of[static_cast<size_t>(pp[j])]);
      } else {
        chosen = RankTop(p, k);
      }
      QS_RETURN_IF_ERROR(Commit(b, p, chosen));
    }
    QS_RETURN_IF_ERROR(EndStep());
  }
  return FinishScope(0, length_);
}

// Fast-dLLM's confidence_threshold alg in Dream's _sample (batch 1): masks / steps tokens per
// step, ranked by top-1 probability; the most confident always commits, the others only at
// or above the threshold, and those held back are added to the next step's count. When the
// last step holds tokens back, one more step is appended (and its base count becomes 0).
Status Denoiser::RunDreamConfidenceThreshold() {
  if (batch_ != 1) {
    return InvalidArgument("the dream confidence_threshold alg runs one sequence at a time");
  }
  const int64_t masks = CountMasksAllRows(0, length_);
  if (masks % c_.steps != 0) {
    return InvalidArgument(
        "the dream confidence_threshold alg needs the number of masked "
        "positions (" +
        std::to_string(masks) + ") to be a multiple of steps (" + std::to_string(c_.steps) +
        "): change gen_length or steps");
  }
  const float threshold = static_cast<float>(c_.threshold);  // compared in float32
  int64_t per_step = masks / c_.steps;
  int64_t carried = 0;
  int64_t total_steps = c_.steps;
  for (int64_t i = 0; i < total_steps; ++i) {
    QS_RETURN_IF_ERROR(ApplyForced());
    if (AllDone()) return Status::Ok();
    const int64_t want = per_step + carried;
    carried = 0;
    if (want <= 0) continue;
    QS_ASSIGN_OR_RETURN(std::vector<Candidates> cands, FindCandidates(0, length_));
    QS_ASSIGN_OR_RETURN(at::Tensor logits, CallModel(cands));
    if (cands[0].positions.empty()) continue;
    Proposal p = Propose(logits, 0, cands[0]);
    const int64_t n = std::min(want, static_cast<int64_t>(p.positions.size()));
    carried += want - n;  // positions a constraint held back
    std::vector<int64_t> ranked = RankTop(p, n);
    const float* conf = p.confidence.data_ptr<float>();
    std::vector<int64_t> chosen;
    for (size_t k = 0; k < ranked.size(); ++k) {
      if (k == 0 || !(conf[ranked[k]] < threshold)) {
        chosen.push_back(ranked[k]);
        continue;
      }
      ++carried;
      // At the last step the schedule grows by one step; the test is made per position
      // against the grown schedule, so one held-back position extends it once.
      if (i >= total_steps - 1) {
        per_step = 0;
        ++total_steps;
      }
    }
    QS_RETURN_IF_ERROR(Commit(0, p, chosen));
    QS_RETURN_IF_ERROR(EndStep());
  }
  return FinishScope(0, length_);
}

Status Denoiser::FinishScope(int64_t lo, int64_t hi) {
  while (true) {
    QS_RETURN_IF_ERROR(ApplyForced());
    if (CountMasksAllRows(lo, hi) == 0 || AllDone()) return Status::Ok();
    QS_ASSIGN_OR_RETURN(std::vector<Candidates> cands, FindCandidates(lo, hi));
    QS_ASSIGN_OR_RETURN(at::Tensor logits, CallModel(cands));
    for (int64_t b = 0; b < batch_; ++b) {
      const Candidates& cand = cands[static_cast<size_t>(b)];
      if (cand.positions.empty()) continue;
      Proposal p = Propose(logits, b, cand);
      QS_RETURN_IF_ERROR(Commit(b, p, RankTop(p, static_cast<int64_t>(p.positions.size()))));
    }
    QS_RETURN_IF_ERROR(EndStep());
  }
}

int64_t Denoiser::CountMasks(int64_t b, int64_t lo, int64_t hi) {
  const int64_t* x = Row(b);
  int64_t n = 0;
  for (int64_t p = lo; p < hi; ++p) n += x[p] == c_.mask_id;
  return n;
}

int64_t Denoiser::CountMasksAllRows(int64_t lo, int64_t hi) {
  int64_t n = 0;
  for (int64_t b = 0; b < batch_; ++b) n += CountMasks(b, lo, hi);
  return n;
}

void Denoiser::RefreshView() {
  const int64_t* x = Row(0);
  for (int64_t p = 0; p < length_; ++p)
    view_tokens_[static_cast<size_t>(p)] = static_cast<int32_t>(x[p]);
}

Status Denoiser::ApplyForced() {
  if (constraint_ == nullptr) return Status::Ok();
  while (true) {
    RefreshView();
    std::vector<TokenCommit> forced;
    QS_RETURN_IF_ERROR(constraint_->ForcedTokens(view_, &forced));
    if (forced.empty()) return Status::Ok();
    const int64_t* x = Row(0);
    for (const TokenCommit& f : forced) {
      if (f.position < 0 || f.position >= length_ || x[f.position] != c_.mask_id) {
        return Internal("the constraint forced position " + std::to_string(f.position) +
                        ", which is not a masked position of the canvas");
      }
      if (f.token < 0 || f.token >= vocab_ || f.token == c_.mask_id) {
        return Internal("the constraint forced token " + std::to_string(f.token) +
                        ", which is not a token the canvas may hold");
      }
    }
    QS_RETURN_IF_ERROR(CommitTokens(0, std::move(forced)));
  }
}

StatusOr<std::vector<Candidates>> Denoiser::FindCandidates(int64_t lo, int64_t hi) {
  std::vector<Candidates> out(static_cast<size_t>(batch_));
  const int vocab = static_cast<int>(vocab_);
  std::vector<uint32_t> words(static_cast<size_t>(kernels::BitmaskWords(vocab)));
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t* x = Row(b);
    Candidates& cand = out[static_cast<size_t>(b)];
    if (constraint_ == nullptr) {
      for (int64_t p = 0; p < hi; ++p) {
        if (x[p] == c_.mask_id) cand.positions.push_back(p);
      }
      continue;
    }
    RefreshView();
    std::vector<std::pair<size_t, std::vector<uint32_t>>> restricted;
    for (int64_t p = 0; p < hi; ++p) {
      if (x[p] != c_.mask_id || !constraint_->MayCommit(view_, p)) continue;
      std::fill(words.begin(), words.end(), 0u);
      if (constraint_->AllowedTokens(view_, p, vocab, words.data())) {
        // A position that allows no token cannot be committed.
        if (std::all_of(words.begin(), words.end(), [](uint32_t w) { return w == 0; })) continue;
        restricted.emplace_back(cand.positions.size(), words);
      }
      cand.positions.push_back(p);
    }
    if (!restricted.empty()) {
      cand.disallowed = at::zeros({static_cast<int64_t>(cand.positions.size()), vocab_},
                                  at::TensorOptions().dtype(at::kBool));
      bool* d = cand.disallowed.data_ptr<bool>();
      for (const auto& [row, bits] : restricted) {
        bool* r = d + row * static_cast<size_t>(vocab_);
        for (int t = 0; t < vocab; ++t) {
          r[t] = ((bits[static_cast<size_t>(t >> 5)] >> (t & 31)) & 1u) == 0;
        }
      }
    }
    if (cand.positions.empty() && CountMasks(b, lo, hi) > 0) {
      return FailedPrecondition(
          "the constraint lets no masked position be committed and forces no token, so "
          "denoising cannot progress (position " +
          std::to_string(lo) + " onwards)");
    }
  }
  return out;
}

StatusOr<at::Tensor> Denoiser::CallModel(const std::vector<Candidates>& cands) {
  // Dream: position i is predicted by output i - 1; position 0 keeps its own.
  auto source_row = [&](int64_t p) { return c_.shift_logits && p > 0 ? p - 1 : p; };
  std::vector<char> needed(static_cast<size_t>(length_), 0);
  for (const Candidates& cand : cands) {
    for (int64_t p : cand.positions) needed[static_cast<size_t>(source_row(p))] = 1;
  }
  std::vector<int64_t> rows, index_of_row(static_cast<size_t>(length_), -1);
  for (int64_t r = 0; r < length_; ++r) {
    if (!needed[static_cast<size_t>(r)]) continue;
    index_of_row[static_cast<size_t>(r)] = static_cast<int64_t>(rows.size());
    rows.push_back(r);
  }
  // No candidate anywhere: the reference still calls the model (the call is counted).
  if (rows.empty()) rows.push_back(length_ - 1);
  row_of_.assign(static_cast<size_t>(length_), -1);
  for (int64_t p = 0; p < length_; ++p) {
    row_of_[static_cast<size_t>(p)] = index_of_row[static_cast<size_t>(source_row(p))];
  }

  const bool cfg = c_.cfg_scale > 0.0;
  at::Tensor ids = x_;
  if (cfg) {
    // LLaDA: the unconditional canvas is the canvas with the prompt masked.
    ids = at::cat({x_, x_.masked_fill(prompt_index_, c_.mask_id)}, 0);
  }
  QS_ASSIGN_OR_RETURN(at::Tensor logits, source_.LogitsAt(ids, rows));
  ++model_calls_;
  const int64_t r = static_cast<int64_t>(rows.size());
  if (logits.dim() != 3 || logits.size(0) != ids.size(0) || logits.size(1) != r ||
      logits.size(2) != vocab_) {
    return Internal("the logits source returned shape " + c10::str(logits.sizes()) + " for ids " +
                    c10::str(ids.sizes()) + ", " + std::to_string(r) + " rows and vocabulary " +
                    std::to_string(vocab_));
  }
  logits = logits.to(at::kFloat);
  if (cfg) {
    at::Tensor cond = logits.narrow(0, 0, batch_);
    at::Tensor un = logits.narrow(0, batch_, batch_);
    // LLaDA: logits = un_logits + (cfg_scale + 1) * (logits - un_logits).
    logits = un + (cond - un) * (c_.cfg_scale + 1.0);
  }
  return logits;
}

Proposal Denoiser::Propose(const at::Tensor& logits, int64_t b, const Candidates& cand) {
  Proposal p;
  p.positions = cand.positions;
  std::vector<int64_t> logit_rows;
  logit_rows.reserve(cand.positions.size());
  for (int64_t pos : cand.positions) logit_rows.push_back(row_of_[static_cast<size_t>(pos)]);
  at::Tensor rows =
      logits.select(0, b).index_select(0, LongTensor(logit_rows).to(logits.device()));  // [N, V]
  if (cand.disallowed.defined()) rows = rows.masked_fill(cand.disallowed.to(rows.device()), -kInf);
  const int64_t n = rows.size(0);
  at::Tensor tokens, confidence;
  auto pick = [&] {
    if (c_.kind == SamplerKind::kDream) {
      const DreamAlg alg =
          c_.alg == DreamAlg::kConfidenceThreshold ? DreamAlg::kMaskgitPlus : c_.alg;
      std::tie(tokens, confidence) = DreamSampleTokens(rows, alg);
    } else {
      if (c_.temperature == 0.0) {
        tokens = rows.argmax(-1);
      } else {
        // LLaDA add_gumbel_noise: exp(logits) / (-log(u))^temperature in float64.
        at::Tensor u = at::rand(rows.sizes(), gen_, at::TensorOptions().dtype(at::kDouble));
        at::Tensor noise = (-u.log()).pow(c_.temperature).to(rows.device());
        tokens = (rows.to(at::kDouble).exp() / noise).argmax(-1);
      }
      if (c_.remasking == Remasking::kRandom) {
        confidence = at::rand({n}, gen_);
      } else {
        // LLaDA takes the softmax in float32, Fast-dLLM in float64.
        at::Tensor probs = c_.kind == SamplerKind::kFastDllmThreshold
                               ? at::softmax(rows.to(at::kDouble), -1)
                               : at::softmax(rows, -1);
        confidence = probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
      }
    }
  };
  pick();
  // A model may rank the mask token itself first (a small one with tied embeddings does, at
  // masked positions). Committing it changes nothing, and a threshold step would repeat
  // forever; the references never meet this case, so only then is the mask token ruled out.
  if (c_.mask_id >= 0 && c_.mask_id < rows.size(-1) && (tokens == c_.mask_id).any().item<bool>()) {
    rows = rows.index_fill(-1, LongTensor({c_.mask_id}).to(rows.device()), -kInf);
    pick();
  }
  p.tokens = tokens.to(at::kCPU).contiguous();
  p.confidence = confidence.to(at::kCPU).contiguous();
  return p;
}

std::pair<at::Tensor, at::Tensor> Denoiser::DreamSampleTokens(at::Tensor logits, DreamAlg alg) {
  const double lowest = std::numeric_limits<float>::lowest();  // torch.finfo(float32).min
  const int64_t vocab = logits.size(-1);
  if (c_.temperature > 0) logits = logits / c_.temperature;
  if (c_.top_p < 1.0) {
    // Nucleus: drop the tokens after the smallest prefix (by descending logit) whose
    // probability mass exceeds top_p; the token that crosses it stays.
    auto sorted = logits.sort(-1, /*descending=*/true);
    at::Tensor cumulative = at::softmax(std::get<0>(sorted), -1).cumsum(-1);
    at::Tensor over = cumulative > c_.top_p;
    at::Tensor remove =
        at::cat({at::zeros_like(over.narrow(-1, 0, 1)), over.narrow(-1, 0, vocab - 1)}, -1);
    at::Tensor mask = at::zeros_like(remove).scatter(-1, std::get<1>(sorted), remove);
    logits = logits.masked_fill(mask, lowest);
  }
  if (c_.top_k > 0) {
    const int64_t k = std::min(c_.top_k, vocab);
    at::Tensor kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);
    logits = logits.masked_fill(logits < kth, lowest);
  }
  at::Tensor probs = at::softmax(logits, -1);
  at::Tensor tokens, confidence;
  if (c_.temperature > 0) {
    tokens = at::multinomial(probs.to(at::kCPU), 1, /*replacement=*/false, gen_)
                 .squeeze(-1)
                 .to(probs.device());
    confidence = probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
  } else {
    std::tie(confidence, tokens) = probs.max(-1);
  }
  if (alg == DreamAlg::kTopkMargin) {
    at::Tensor sorted = std::get<0>(probs.sort(-1, /*descending=*/true));
    confidence = sorted.select(-1, 0) - sorted.select(-1, 1);
  } else if (alg == DreamAlg::kEntropy) {
    confidence = (probs * (probs + 1e-10).log()).sum(-1);
  }
  return {tokens, confidence};
}

std::vector<int64_t> Denoiser::RankTop(const Proposal& p, int64_t k) {
  if (k <= 0) return {};
  // torch.topk over the full row with -inf off the candidates, as the references rank, so
  // that ties resolve the same way.
  at::Tensor full = at::full({length_}, -kInf, p.confidence.options());
  full.index_put_({LongTensor(p.positions)}, p.confidence);
  at::Tensor top = std::get<1>(at::topk(full, k));
  std::vector<int64_t> index_of(static_cast<size_t>(length_), -1);
  for (size_t j = 0; j < p.positions.size(); ++j) {
    index_of[static_cast<size_t>(p.positions[j])] = static_cast<int64_t>(j);
  }
  std::vector<int64_t> out;
  const int64_t* tp = top.data_ptr<int64_t>();
  for (int64_t j = 0; j < k; ++j) out.push_back(index_of[static_cast<size_t>(tp[j])]);
  return out;
}

Status Denoiser::Commit(int64_t b, const Proposal& p, const std::vector<int64_t>& sampler_chosen) {
  const int64_t* tokens = p.tokens.data_ptr<int64_t>();
  std::vector<int64_t> chosen = sampler_chosen;
  if (constraint_ != nullptr) {
    at::Tensor conf = p.confidence.to(at::kDouble).contiguous();
    const double* c = conf.data_ptr<double>();
    std::vector<ProposedToken> proposals(p.positions.size());
    for (size_t j = 0; j < p.positions.size(); ++j) {
      proposals[j] = {p.positions[j], static_cast<int32_t>(tokens[j]), c[j]};
    }
    RefreshView();
    constraint_->ChooseCommits(view_, proposals, &chosen);
    std::sort(chosen.begin(), chosen.end());
  }
  std::vector<TokenCommit> commits;
  for (int64_t j : chosen) {
    QS_CHECK(j >= 0, "a chosen position is not a candidate");
    commits.push_back({p.positions[static_cast<size_t>(j)], static_cast<int32_t>(tokens[j])});
  }
  return CommitTokens(b, std::move(commits));
}

Status Denoiser::CommitTokens(int64_t b, std::vector<TokenCommit> commits) {
  if (commits.empty()) return Status::Ok();
  std::sort(commits.begin(), commits.end(),
            [](const TokenCommit& a, const TokenCommit& z) { return a.position < z.position; });
  int64_t* x = Row(b);
  for (const TokenCommit& c : commits) x[c.position] = c.token;
  changed_ = true;
  if (constraint_ == nullptr) return Status::Ok();
  RefreshView();
  return constraint_->OnCommit(view_, commits);
}

Status Denoiser::EndStep() {
  ++steps_;
  if (c_.early_stop && c_.eos_id >= 0) {
    for (int64_t b = 0; b < batch_; ++b) {
      // The answer is complete at its first EOS when nothing before it is masked; nothing
      // can change it any more, so the rest of the row becomes EOS without model calls.
      if (CountMasks(b, 0, prompt_length_) > 0) continue;
      const int64_t* x = Row(b);
      int64_t e = prompt_length_;
      while (e < length_ && x[e] != c_.mask_id && x[e] != c_.eos_id) ++e;
      if (e == length_ || x[e] != c_.eos_id) continue;
      std::vector<TokenCommit> fill;
      for (int64_t p = e + 1; p < length_; ++p) {
        if (x[p] == c_.mask_id) fill.push_back({p, static_cast<int32_t>(c_.eos_id)});
      }
      filled_ = filled_ || !fill.empty();
      QS_RETURN_IF_ERROR(CommitTokens(b, std::move(fill)));
    }
  }
  changed_ = true;  // a step is reported even when it committed nothing
  Report();
  return Status::Ok();
}

void Denoiser::Report() {
  if (observer_ == nullptr || !changed_) return;
  changed_ = false;
  std::vector<int32_t> canvas(static_cast<size_t>(batch_ * length_));
  const int64_t* x = x_.data_ptr<int64_t>();
  for (size_t i = 0; i < canvas.size(); ++i) canvas[i] = static_cast<int32_t>(x[i]);
  StepEvent event;
  event.step = steps_;
  event.model_calls = model_calls_;
  event.canvas = canvas.data();
  event.batch = batch_;
  event.length = length_;
  event.prompt_length = prompt_length_;
  event.mask_id = static_cast<int32_t>(c_.mask_id);
  observer_->OnStep(event);
}

}  // namespace

StatusOr<SamplerResult> RunSampler(const at::Tensor& prompt, const SamplerConfig& config,
                                   LogitsSource& source, Constraint* constraint,
                                   StepObserver* observer) {
  Denoiser denoiser(config, source, constraint, observer);
  return denoiser.Run(prompt);
}

Answer ExtractAnswer(const at::Tensor& canvas, int64_t row, int64_t prompt_length, int64_t eos_id) {
  at::Tensor r = canvas.select(0, row).to(at::kCPU).contiguous();
  const int64_t* x = r.data_ptr<int64_t>();
  Answer answer;
  for (int64_t i = prompt_length; i < r.size(0); ++i) {
    if (eos_id >= 0 && x[i] == eos_id) {
      answer.ended_with_eos = true;
      break;
    }
    answer.ids.push_back(static_cast<int32_t>(x[i]));
  }
  return answer;
}

}  // namespace qs::model
