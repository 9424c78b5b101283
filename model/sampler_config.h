// The settings of a denoising sampler, torch-free so that the facade (diffusion_lm.h) and
// the CLI can fill them in. The samplers themselves are in sampler.h (LibTorch).
//
// Three published samplers, reproduced step for step:
//   llada                LLaDA's generate.py (ML-GSAI/LLaDA): semi-autoregressive blocks, a
//                        fixed number of tokens per step, low-confidence or random remasking,
//                        classifier-free guidance.
//   fast_dllm_threshold  Fast-dLLM's llada/generate.py (NVlabs/Fast-dLLM): per step, every
//                        masked position of the block whose confidence >= threshold (at least
//                        one), until the block is full.
//   dream                Dream's _sample (HKUNLP/Dream generation_utils.py, Fast-dLLM's copy):
//                        the whole answer at once on a linear time schedule, with the algs
//                        below; confidence_threshold is Fast-dLLM's addition.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace qs::model {

enum class SamplerKind { kLlada, kFastDllmThreshold, kDream };
enum class Remasking { kLowConfidence, kRandom };
// How Dream ranks masked positions: origin (each revealed with probability 1 - s/t),
// maskgit_plus (top-1 probability), topk_margin (top-1 minus top-2 probability), entropy
// (negative entropy), confidence_threshold (fixed count per step, low ones carried over).
enum class DreamAlg { kOrigin, kMaskgitPlus, kTopkMargin, kEntropy, kConfidenceThreshold };
// Fast-dLLM's approximate KV cache (transformer.h KvCacheState): none recomputes the whole
// canvas every step (exact); prefix recomputes the current block and everything after it,
// with the keys / values before the block frozen at the block's first step; dual
// recomputes only the current block (keys / values before and after it frozen). Dream's
// single scope is the whole answer: prefix and dual then freeze the prompt only.
enum class KvCache { kNone, kPrefix, kDual };

struct SamplerConfig {
  SamplerKind kind = SamplerKind::kLlada;
  int64_t gen_length = 128;  // masked positions appended to the prompt
  int64_t steps = 128;       // llada kinds: split evenly over the blocks; dream: the schedule
  int64_t block_length = 0;  // 0 = one block of gen_length; dream needs 0 or gen_length
  Remasking remasking = Remasking::kLowConfidence;  // llada kinds
  double temperature = 0.0;                         // 0 = argmax (deterministic)
  double cfg_scale = 0.0;  // llada kinds: classifier-free guidance; 0 = off
  double threshold = 0.9;  // fast_dllm_threshold and dream confidence_threshold
  DreamAlg alg = DreamAlg::kMaskgitPlus;
  double alg_temp = 0.0;  // dream: > 0 samples positions by softmax(confidence / alg_temp)
  double eps = 1e-3;      // dream: the schedule runs from t = 1 down to eps
  double top_p = 1.0;     // dream token sampling: nucleus; 1 = off
  int64_t top_k = 0;      // dream token sampling: 0 = off
  int64_t mask_id = -1;
  int64_t eos_id = -1;        // -1: no end-of-text handling
  bool shift_logits = false;  // Dream models predict position i from output i - 1
  uint64_t seed = 0;          // for temperature > 0, random remasking, origin, alg_temp
  // When a row's answer is complete (an EOS with nothing masked before it), fill the rest of
  // the row with EOS and, once every row is complete, stop without further model calls.
  // The text up to the first EOS is the same as without early stop: committed tokens never
  // change, so nothing the remaining steps could do reaches it.
  bool early_stop = true;
};

const char* SamplerKindName(SamplerKind kind);
const char* RemaskingName(Remasking remasking);
const char* DreamAlgName(DreamAlg alg);
// "llada", "fast_dllm_threshold" (or "fast_dllm"), "dream".
StatusOr<SamplerKind> ParseSamplerKind(const std::string& text);
// "low_confidence", "random".
StatusOr<Remasking> ParseRemasking(const std::string& text);
// "origin", "maskgit_plus", "topk_margin", "entropy", "confidence_threshold".
StatusOr<DreamAlg> ParseDreamAlg(const std::string& text);
// "none", "prefix", "dual".
const char* KvCacheName(KvCache cache);
StatusOr<KvCache> ParseKvCache(const std::string& text);

// block_length with 0 resolved to gen_length.
int64_t EffectiveBlockLength(const SamplerConfig& config);

// Checks a config against a prompt length and a vocabulary; the message says what is wrong
// and how to fix it.
Status ValidateSamplerConfig(const SamplerConfig& config, int64_t prompt_length,
                             int64_t vocab_size);

}  // namespace qs::model
