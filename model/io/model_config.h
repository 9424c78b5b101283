// The architecture facts of a checkpoint, read from its config.json. Four layouts:
//   llada  (LLaDA's own config keys and tensor names; model_type "llada")
//   dream  (Qwen2 names with q/k/v biases; model_type "Dream")
//   llama, qwen2 (transformers configs; rope_theta top-level (v4) or in rope_parameters (v5))
// Torch-free.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace qs::model {

enum class Architecture { kLlada, kDream, kLlama, kQwen2 };
const char* ArchitectureName(Architecture arch);
// "llada", "Dream" (or "dream"), "llama", "qwen2"; Unsupported for anything else.
StatusOr<Architecture> ParseArchitecture(const std::string& model_type);

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  std::string model_type;  // as written in config.json
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t intermediate_size = 0;
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 0;  // 0 = unknown
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool qkv_bias = false;
  bool tie_word_embeddings = false;
  // Token ids the samplers need; -1 when the config does not say.
  int64_t mask_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;
  // Dream predicts token i from output i-1 (logits shifted right by one position).
  bool shift_logits = false;

  int64_t num_parameters() const;
};

// Parses config.json text; `path` names the file in messages.
StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& path);
StatusOr<ModelConfig> LoadModelConfig(const std::string& dir);

// Serializes a config in the layout of its architecture (for training and test helpers).
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace qs::model
