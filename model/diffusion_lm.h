// A diffusion language model ready to generate: a checkpoint (or random weights) plus the
// samplers. The torch-free face of model/ for the CLI and the runtime.
//
// Thread safety: Generate is const and may run on several threads at once (each call has
// its own canvas and random generator; constraints and observers belong to one call).
// Loading is not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/constraint.h"
#include "model/io/model_config.h"
#include "model/sampler_config.h"

namespace qs::model {

struct GenerateOptions {
  // mask_id / eos_id of -1 take the model's mask_token_id / eos_token_id; shift_logits is
  // always the model's (Dream checkpoints need it whatever the sampler).
  SamplerConfig sampler;
  KvCache kv_cache = KvCache::kNone;  // Fast-dLLM's approximate cache (sampler_config.h)
  // Benchmarks only: the LM head over every canvas position, as steps computed it before
  // they read only the rows of their candidates (the answer is the same).
  bool full_lm_head = false;
};

struct GenerateResult {
  std::vector<int32_t> ids;  // the answer: without the prompt, cut before the first EOS
  bool ended_with_eos = false;
  int64_t steps = 0;
  int64_t model_calls = 0;
  bool stopped_early = false;  // the answer ended with EOS before the schedule ran out
  double seconds = 0.0;        // wall time of the denoising loop
};

class Transformer;

class DiffusionLm {
 public:
  // A checkpoint folder (config.json + safetensors); dtype "float32" or "bfloat16"; device
  // "cpu", "cuda" or "cuda:N" (weights go to the device tensor by tensor).
  static StatusOr<std::unique_ptr<DiffusionLm>> Load(const std::string& dir,
                                                     const std::string& dtype = "float32",
                                                     const std::string& device = "cpu");
  // Random weights (float32), for tests and benchmarks.
  static std::unique_ptr<DiffusionLm> Random(const ModelConfig& config, uint64_t seed);
  // Random weights in `dtype` on `device` (filled there), for benchmarks.
  static StatusOr<std::unique_ptr<DiffusionLm>> RandomOn(const ModelConfig& config, uint64_t seed,
                                                         const std::string& device,
                                                         const std::string& dtype);
  ~DiffusionLm();
  DiffusionLm(const DiffusionLm&) = delete;
  DiffusionLm& operator=(const DiffusionLm&) = delete;

  const ModelConfig& config() const;
  // The network itself, for benchmarks inside model/ (transformer.h is LibTorch).
  const Transformer& transformer() const;
  // The sampler this model was published with (dream for Dream checkpoints, llada
  // otherwise) with the model's token ids.
  GenerateOptions DefaultOptions() const;

  // The model's logits (float, vocab_size values) for canvas position `position` of
  // `canvas` (the tokens after `prompt`), with that position masked and every other one as
  // given: one forward. For re-predicting a token with the rest of a finished canvas in view
  // (remasking self-correction, as in ReMDM: Wang et al. 2025). Dream reads the row before.
  StatusOr<std::vector<float>> PredictAt(const std::vector<int32_t>& prompt,
                                         std::vector<int32_t> canvas, int64_t position) const;

  // Denoises gen_length tokens after `prompt`. `constraint` and `observer` may be null.
  // Invalid options fail with InvalidArgument naming the option and the fix; LibTorch
  // failures come back as Internal.
  StatusOr<GenerateResult> Generate(const std::vector<int32_t>& prompt,
                                    const GenerateOptions& options,
                                    Constraint* constraint = nullptr,
                                    StepObserver* observer = nullptr) const;

 private:
  struct Impl;
  explicit DiffusionLm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qs::model
