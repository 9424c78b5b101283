#include "model/sampler_config.h"

#include <cmath>

namespace qs::model {

const char* SamplerKindName(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kLlada:
      return "llada";
    case SamplerKind::kFastDllmThreshold:
      return "fast_dllm_threshold";
    case SamplerKind::kDream:
      return "dream";
  }
  return "?";
}

const char* RemaskingName(Remasking remasking) {
  return remasking == Remasking::kRandom ? "random" : "low_confidence";
}

const char* DreamAlgName(DreamAlg alg) {
  switch (alg) {
    case DreamAlg::kOrigin:
      return "origin";
    case DreamAlg::kMaskgitPlus:
      return "maskgit_plus";
    case DreamAlg::kTopkMargin:
      return "topk_margin";
    case DreamAlg::kEntropy:
      return "entropy";
    case DreamAlg::kConfidenceThreshold:
      return "confidence_threshold";
  }
  return "?";
}

StatusOr<SamplerKind> ParseSamplerKind(const std::string& text) {
  if (text == "llada") return SamplerKind::kLlada;
  if (text == "fast_dllm_threshold" || text == "fast_dllm") return SamplerKind::kFastDllmThreshold;
  if (text == "dream") return SamplerKind::kDream;
  return InvalidArgument("unknown sampler \"" + text +
                         "\" (use llada, fast_dllm_threshold or dream)");
}

StatusOr<Remasking> ParseRemasking(const std::string& text) {
  if (text == "low_confidence") return Remasking::kLowConfidence;
  if (text == "random") return Remasking::kRandom;
  return InvalidArgument("unknown remasking \"" + text + "\" (use low_confidence or random)");
}

StatusOr<DreamAlg> ParseDreamAlg(const std::string& text) {
  for (DreamAlg alg : {DreamAlg::kOrigin, DreamAlg::kMaskgitPlus, DreamAlg::kTopkMargin,
                       DreamAlg::kEntropy, DreamAlg::kConfidenceThreshold}) {
    if (text == DreamAlgName(alg)) return alg;
  }
  return InvalidArgument("unknown Dream alg \"" + text +
                         "\" (use origin, maskgit_plus, topk_margin, entropy or "
                         "confidence_threshold)");
}

const char* KvCacheName(KvCache cache) {
  switch (cache) {
    case KvCache::kNone:
      return "none";
    case KvCache::kPrefix:
      return "prefix";
    case KvCache::kDual:
      return "dual";
  }
  return "?";
}

StatusOr<KvCache> ParseKvCache(const std::string& text) {
  for (KvCache cache : {KvCache::kNone, KvCache::kPrefix, KvCache::kDual}) {
    if (text == KvCacheName(cache)) return cache;
  }
  return InvalidArgument("unknown KV cache \"" + text + "\" (use none, prefix or dual)");
}

int64_t EffectiveBlockLength(const SamplerConfig& c) {
  return c.block_length == 0 ? c.gen_length : c.block_length;
}

Status ValidateSamplerConfig(const SamplerConfig& c, int64_t prompt_length, int64_t vocab_size) {
  const std::string n = std::to_string(c.gen_length);
  if (prompt_length <= 0) {
    return InvalidArgument(
        "the prompt is empty: the model needs at least one token to condition on (e.g. the "
        "chat template's BOS)");
  }
  if (c.gen_length <= 0) {
    return InvalidArgument("gen_length must be positive (got " + n + ")");
  }
  if (c.steps <= 0) {
    return InvalidArgument("steps must be positive (got " + std::to_string(c.steps) + ")");
  }
  if (c.block_length < 0) {
    return InvalidArgument("block_length must be positive, or 0 for one block of gen_length");
  }
  const int64_t block = EffectiveBlockLength(c);
  if (c.kind == SamplerKind::kDream) {
    if (block != c.gen_length) {
      return InvalidArgument(
          "the dream sampler denoises the whole answer at once: set "
          "block_length to 0 (or to gen_length " +
          n + "), not " + std::to_string(c.block_length));
    }
    if (c.cfg_scale != 0.0) {
      return Unsupported(
          "classifier-free guidance (cfg_scale) is only implemented by the llada "
          "samplers; set cfg_scale to 0 for dream");
    }
  } else {
    if (c.gen_length % block != 0) {
      return InvalidArgument("gen_length " + n + " is not a multiple of block_length " +
                             std::to_string(block) + ": make gen_length a multiple of it (e.g. " +
                             std::to_string((c.gen_length / block + 1) * block) +
                             ") or pick a block_length that divides " + n);
    }
    const int64_t blocks = c.gen_length / block;
    if (c.steps % blocks != 0) {
      return InvalidArgument("steps " + std::to_string(c.steps) + " cannot be split evenly over " +
                             std::to_string(blocks) + " blocks (gen_length " + n +
                             " / block_length " + std::to_string(block) + "): use a multiple of " +
                             std::to_string(blocks) + " for steps");
    }
  }
  if (c.mask_id < 0 || c.mask_id >= vocab_size) {
    return InvalidArgument(
        c.mask_id < 0 ? std::string("the mask token id is unknown: the model's config.json has no "
                                    "mask_token_id; add it there or set the sampler's mask id")
                      : "mask id " + std::to_string(c.mask_id) + " is outside the vocabulary of " +
                            std::to_string(vocab_size) + " tokens: use the model's mask_token_id");
  }
  if (c.eos_id >= vocab_size || c.eos_id == c.mask_id) {
    return InvalidArgument("eos id " + std::to_string(c.eos_id) +
                           " is not a usable end-of-text token (vocabulary " +
                           std::to_string(vocab_size) + ", mask " + std::to_string(c.mask_id) +
                           "): use the model's eos_token_id, or -1 for none");
  }
  if (!(c.temperature >= 0.0) || !std::isfinite(c.temperature)) {
    return InvalidArgument("temperature must be >= 0 (0 = greedy)");
  }
  if (!(c.cfg_scale >= 0.0) || !std::isfinite(c.cfg_scale)) {
    return InvalidArgument("cfg_scale must be >= 0 (0 = no guidance)");
  }
  if (!(c.threshold >= 0.0 && c.threshold <= 1.0)) {
    return InvalidArgument("threshold is a probability: it must be in [0, 1]");
  }
  if (!(c.alg_temp >= 0.0) || !std::isfinite(c.alg_temp)) {
    return InvalidArgument("alg_temp must be >= 0 (0 = take the most confident positions)");
  }
  if (!(c.eps > 0.0 && c.eps < 1.0)) {
    return InvalidArgument("eps must be in (0, 1) (Dream uses 1e-3)");
  }
  if (!(c.top_p > 0.0 && c.top_p <= 1.0)) {
    return InvalidArgument("top_p must be in (0, 1] (1 = off)");
  }
  if (c.top_k < 0) return InvalidArgument("top_k must be >= 0 (0 = off)");
  return Status::Ok();
}

}  // namespace qs::model
