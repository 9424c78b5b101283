// The transformer shared by LLaDA, Dream, Llama and Qwen2 checkpoints: token embedding,
// N x [RMSNorm -> attention (GQA, RoPE, optional q/k/v bias) -> residual, RMSNorm ->
// SwiGLU MLP -> residual], final RMSNorm, LM head (tied or untied). Attention is
// bidirectional (what masked diffusion models use) unless causal is asked for.
// Follows transformers' Llama/Qwen2 modeling code for the arithmetic (fp32 RMSNorm, RoPE
// with rotate_half, softmax in fp32) so logits match it.
//
// LibTorch header: only model/ includes it. Thread safety: Forward is const and may run on
// several threads at once; loading is not thread-safe. Forward is differentiable (no
// InferenceMode inside): training (model/train.cc) takes the weights through
// TrainableWeights() and runs backward through it.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "model/io/model_config.h"

namespace qs::model {

struct LoadOptions {
  at::ScalarType compute_dtype = at::kFloat;  // kFloat or kBFloat16
  at::Device device = at::kCPU;
};

struct ForwardOptions {
  bool causal = false;
  bool want_hidden = false;  // hidden[0] = embeddings, hidden[k] = output of layer k
                             // (the last one after the final norm, as transformers does)
  // false: skip the LM head (logits undefined); with want_hidden, callers apply LmHead to
  // the positions they need (training scores masked positions only).
  bool want_logits = true;
  // With want_logits: the canvas positions (int64 [R], inside the forward's range) whose
  // logits are computed, so logits are [B, R, V]; undefined: every position. A denoising
  // step reads only its masked candidates, and the LM head is a large part of a forward
  // (Qwen2-0.5B: 136M of its 494M weights).
  at::Tensor logit_positions;
};

struct ForwardOutput {
  at::Tensor logits;  // [B, L, V] in the compute dtype
  std::vector<at::Tensor> hidden;
};

// Keys and values of every layer for a whole canvas, as a full bidirectional forward
// computed them (after RoPE, before grouped-query repetition): [B, kv_heads, L, head_dim].
// Fast-dLLM's approximate KV cache for diffusion decoding (Wu et al. 2025, "Fast-dLLM:
// Training-free Acceleration of Diffusion LLM by Enabling KV Cache and Parallel
// Decoding"): positions outside the range being recomputed attend with these stale
// entries until the next full forward refreshes them.
struct KvCacheState {
  std::vector<at::Tensor> k, v;
};

class Transformer {
 public:
  // Reads config.json and the safetensors weights of a checkpoint folder. Names the
  // problem on failure: missing / unexpected tensors (listed), shape mismatches with
  // config.json, unsupported dtypes, truncated files.
  static StatusOr<std::unique_ptr<Transformer>> Load(const std::string& dir,
                                                     const LoadOptions& options);
  // Random weights (normal, std 0.02; norms 1) for benchmarks and tests.
  static std::unique_ptr<Transformer> Random(const ModelConfig& config, uint64_t seed,
                                             const LoadOptions& options);

  // input_ids: [B, L] int64 on any device.
  ForwardOutput Forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) const;
  // Bidirectional forward over the canvas positions [begin, end) only: their queries attend
  // to their own fresh keys / values and to `cache` (from a full forward of the same canvas
  // length) everywhere else. store = true needs begin = 0, end = L and fills the cache
  // (the logits then equal Forward's). Returns logits [B, end - begin, V], or [B, R, V] at
  // the canvas positions logit_positions (int64 [R], inside [begin, end)) when given.
  at::Tensor ForwardRange(const at::Tensor& input_ids, int64_t begin, int64_t end,
                          KvCacheState* cache, bool store,
                          const at::Tensor& logit_positions = at::Tensor()) const;
  // The LM head on final hidden states (the last entry of ForwardOutput::hidden): [..., V].
  at::Tensor LmHead(const at::Tensor& final_hidden) const;

  const ModelConfig& config() const { return config_; }
  const LoadOptions& options() const { return options_; }
  // Bytes of weights as stored in memory.
  int64_t weight_bytes() const;

  // Writes dir/model.safetensors in the checkpoint layout of config().arch: the weights as
  // stored in memory, or converted to `dtype` (kFloat, kBFloat16 or kHalf) when given.
  Status Save(const std::string& dir, std::optional<at::ScalarType> dtype = std::nullopt) const;

  // For training: every distinct weight with its checkpoint name, in a fixed order (a tied
  // LM head is the embedding and appears once, under the embedding's name). Each tensor is
  // set to require grad; the tensors are the model's own, so optimizer updates in place
  // change the model.
  std::vector<std::pair<std::string, at::Tensor>> TrainableWeights();

 private:
  struct Layer {
    at::Tensor attn_norm, q, k, v, q_bias, k_bias, v_bias, o, mlp_norm, gate, up, down;
  };
  Transformer(ModelConfig config, LoadOptions options);
  // Every weight with its checkpoint name and shape; drives Load, Save and Random.
  std::vector<struct WeightSlot> Slots();
  at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight) const;
  // Forward over positions [begin, end) of input_ids; cache as in ForwardRange (null: the
  // range is the whole canvas and nothing is cached).
  ForwardOutput ForwardImpl(const at::Tensor& input_ids, int64_t begin, int64_t end,
                            KvCacheState* cache, bool store, const ForwardOptions& fo) const;

  ModelConfig config_;
  LoadOptions options_;
  at::Tensor embed_, final_norm_, lm_head_;
  std::vector<Layer> layers_;
  at::Tensor inv_freq_;  // [head_dim / 2], fp32
};

}  // namespace qs::model
