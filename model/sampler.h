// The denoising loop: LLaDA, Fast-dLLM threshold and Dream samplers (see sampler_config.h)
// over a source of logits, with an optional constraint and step observer (constraint.h).
// At temperature 0 each sampler commits exactly what the published Python does, step by
// step (tests/unit/sampler_trace_test.cc replays their recorded traces).
//
// Departures from the reference code, none of which changes a canvas it would produce:
// - a step that can commit nothing (a zero count in the schedule, a block already full)
//   makes no model call;
// - a scope (a block, or the whole canvas for dream) that still has masked positions after
//   its scheduled steps gets extra steps that commit every committable position, so that
//   generation ends with a full canvas. Without a constraint this happens only when the
//   prompt itself holds mask tokens (they compete for the block's slots; the reference
//   then returns masks);
// - randomness (Gumbel noise, random remasking, token and position sampling) comes from
//   one CPU generator seeded from SamplerConfig::seed, so runs reproduce on every device.
// Sampling math runs in float32 (float64 where the reference uses it) on the logits'
// device, whatever dtype the model computes in.
//
// LibTorch header: only model/ includes it; other folders use diffusion_lm.h.
// Thread safety: RunSampler keeps its state on the stack; concurrent runs need their own
// LogitsSource unless the source is thread-safe (TransformerLogits is).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "model/constraint.h"
#include "model/sampler_config.h"
#include "model/transformer.h"

namespace qs::model {

// Where the sampler gets logits from.
class LogitsSource {
 public:
  virtual ~LogitsSource() = default;
  // Raw logits [N, L, V] for `ids` [N, L] int64 on the CPU, with nothing applied (no
  // shift, no guidance). With classifier-free guidance the sampler makes one call with
  // N = 2B rows, [canvas; canvas with the prompt masked], as LLaDA batches them.
  virtual StatusOr<at::Tensor> Logits(const at::Tensor& ids) = 0;
  // Raw logits [N, R, V] at the canvas positions `rows` (sorted, distinct) only; what the
  // samplers call. The default selects them from Logits(ids); the transformer sources run
  // the LM head on those rows only.
  virtual StatusOr<at::Tensor> LogitsAt(const at::Tensor& ids, const std::vector<int64_t>& rows);
  virtual int64_t vocab_size() const = 0;
  // The sampler starts committing canvas positions [begin, end) (a block; Dream: the whole
  // answer). Sources that cache (CachedTransformerLogits) refresh on the next call.
  virtual void BeginScope(int64_t begin, int64_t end) {}
};

// Transformer::Forward, bidirectional.
class TransformerLogits : public LogitsSource {
 public:
  // full_lm_head: LogitsAt runs the LM head on every position and selects (benchmarks).
  explicit TransformerLogits(const Transformer& model, bool full_lm_head = false)
      : model_(model), full_lm_head_(full_lm_head) {}
  StatusOr<at::Tensor> Logits(const at::Tensor& ids) override;
  StatusOr<at::Tensor> LogitsAt(const at::Tensor& ids, const std::vector<int64_t>& rows) override;
  int64_t vocab_size() const override { return model_.config().vocab_size; }

 private:
  const Transformer& model_;
  bool full_lm_head_;
};

// Transformer::ForwardRange with Fast-dLLM's approximate KV cache (sampler_config.h
// KvCache): the first call of a scope runs the whole canvas and keeps every layer's keys
// and values; later calls recompute only the scope (dual) or the scope and what follows
// (prefix), widened to cover the rows asked for (Dream reads the logits of the position
// before each masked one). One canvas at a time: not thread-safe.
class CachedTransformerLogits : public LogitsSource {
 public:
  CachedTransformerLogits(const Transformer& model, KvCache mode, bool full_lm_head = false)
      : model_(model), mode_(mode), full_lm_head_(full_lm_head) {}
  // Every row: a refreshing call, or the recomputed rows widened to the whole canvas.
  StatusOr<at::Tensor> Logits(const at::Tensor& ids) override;
  StatusOr<at::Tensor> LogitsAt(const at::Tensor& ids, const std::vector<int64_t>& rows) override;
  int64_t vocab_size() const override { return model_.config().vocab_size; }
  void BeginScope(int64_t begin, int64_t end) override;
  int64_t full_forwards() const { return full_forwards_; }

 private:
  const Transformer& model_;
  KvCache mode_;
  bool full_lm_head_;  // as TransformerLogits
  KvCacheState cache_;
  int64_t cached_batch_ = -1, cached_length_ = -1;  // the canvas shape cache_ holds
  int64_t begin_ = 0, end_ = 0;
  bool refresh_ = true;
  int64_t full_forwards_ = 0;
};

struct SamplerResult {
  at::Tensor canvas;  // [B, P + gen_length] int64 on the CPU: prompt, then the answer
  int64_t steps = 0;  // denoising steps taken (a step commits tokens)
  int64_t model_calls = 0;
  bool stopped_early = false;  // every row ended by EOS before the schedule ran out
};

// prompt: [B, P] int64. `constraint` (batch 1 only) and `observer` may be null. Errors:
// invalid config (ValidateSamplerConfig), the source's errors, a constraint that blocks
// progress or reports an error; LibTorch exceptions are the caller's to catch.
StatusOr<SamplerResult> RunSampler(const at::Tensor& prompt, const SamplerConfig& config,
                                   LogitsSource& source, Constraint* constraint = nullptr,
                                   StepObserver* observer = nullptr);

// The answer in row `row` of a canvas: the tokens after the prompt, cut before the first
// EOS (eos_id < 0: never cut).
struct Answer {
  std::vector<int32_t> ids;
  bool ended_with_eos = false;
};
Answer ExtractAnswer(const at::Tensor& canvas, int64_t row, int64_t prompt_length, int64_t eos_id);

}  // namespace qs::model
