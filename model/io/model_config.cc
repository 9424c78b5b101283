#include "model/io/model_config.h"

#include <nlohmann/json.hpp>

#include "base/files.h"

namespace qs::model {

const char* ArchitectureName(Architecture arch) {
  switch (arch) {
    case Architecture::kLlada:
      return "llada";
    case Architecture::kDream:
      return "Dream";
    case Architecture::kLlama:
      return "llama";
    case Architecture::kQwen2:
      return "qwen2";
  }
  return "?";
}

StatusOr<Architecture> ParseArchitecture(const std::string& model_type) {
  if (model_type == "llada") return Architecture::kLlada;
  if (model_type == "Dream" || model_type == "dream") return Architecture::kDream;
  if (model_type == "llama") return Architecture::kLlama;
  if (model_type == "qwen2") return Architecture::kQwen2;
  return Unsupported("unknown model_type \"" + model_type +
                     "\" (supported: llada, Dream, llama, qwen2)");
}

int64_t ModelConfig::num_parameters() const {
  const int64_t attn = hidden_size * head_dim * (2 * num_heads + 2 * num_kv_heads) +
                       (qkv_bias ? head_dim * (num_heads + 2 * num_kv_heads) : 0);
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t per_layer = attn + mlp + 2 * hidden_size;
  const int64_t embed = vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2);
  return num_layers * per_layer + embed + hidden_size;
}

namespace {

// Reads config keys with messages that name the file and the key.
class Reader {
 public:
  Reader(const nlohmann::json& j, const std::string& path) : j_(j), path_(path) {}

  Status Int(const char* key, int64_t* out, bool required) {
    if (!j_.contains(key) || j_[key].is_null()) {
      if (required) return InvalidArgument(path_ + ": missing \"" + key + "\"");
      return Status::Ok();
    }
    const auto& v = j_[key];
    // eos_token_id may be a list; the first one is the end-of-text token.
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) {
      *out = v[0].get<int64_t>();
      return Status::Ok();
    }
    if (!v.is_number_integer()) {
      return InvalidArgument(path_ + ": \"" + key + "\" must be an integer, got " + v.dump());
    }
    *out = v.get<int64_t>();
    return Status::Ok();
  }
  Status Double(const char* key, double* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::Ok();
    if (!j_[key].is_number()) {
      return InvalidArgument(path_ + ": \"" + key + "\" must be a number, got " + j_[key].dump());
    }
    *out = j_[key].get<double>();
    return Status::Ok();
  }
  Status Bool(const char* key, bool* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::Ok();
    if (!j_[key].is_boolean()) {
      return InvalidArgument(path_ + ": \"" + key + "\" must be true or false");
    }
    *out = j_[key].get<bool>();
    return Status::Ok();
  }
  Status String(const char* key, std::string* out) {
    if (!j_.contains(key) || j_[key].is_null()) return Status::Ok();
    if (!j_[key].is_string()) return InvalidArgument(path_ + ": \"" + key + "\" must be a string");
    *out = j_[key].get<std::string>();
    return Status::Ok();
  }

 private:
  const nlohmann::json& j_;
  const std::string& path_;
};

Status Positive(const std::string& path, const char* key, int64_t v) {
  if (v <= 0)
    return InvalidArgument(path + ": \"" + key + "\" must be positive, got " + std::to_string(v));
  return Status::Ok();
}

}  // namespace

StatusOr<ModelConfig> ParseModelConfig(const std::string& json_text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) return InvalidArgument(path + ": expected a JSON object");
  Reader r(j, path);
  ModelConfig c;
  QS_RETURN_IF_ERROR(r.String("model_type", &c.model_type));
  if (c.model_type.empty()) {
    return InvalidArgument(path +
                           ": missing \"model_type\" (expected llada, Dream, llama or qwen2)");
  }
  StatusOr<Architecture> arch = ParseArchitecture(c.model_type);
  if (!arch.ok()) return arch.status().WithContext(path);
  c.arch = *arch;

  if (c.arch == Architecture::kLlada) {
    QS_RETURN_IF_ERROR(r.Int("d_model", &c.hidden_size, true));
    QS_RETURN_IF_ERROR(r.Int("n_layers", &c.num_layers, true));
    QS_RETURN_IF_ERROR(r.Int("n_heads", &c.num_heads, true));
    c.num_kv_heads = c.num_heads;
    QS_RETURN_IF_ERROR(r.Int("n_kv_heads", &c.num_kv_heads, false));
    QS_RETURN_IF_ERROR(r.Int("mlp_hidden_size", &c.intermediate_size, true));
    QS_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size, true));
    // LLaDA pads the embedding table beyond the tokenizer's vocabulary.
    QS_RETURN_IF_ERROR(r.Int("embedding_size", &c.vocab_size, false));
    QS_RETURN_IF_ERROR(r.Int("max_sequence_length", &c.max_position_embeddings, false));
    QS_RETURN_IF_ERROR(r.Bool("weight_tying", &c.tie_word_embeddings));
    bool include_bias = false;
    QS_RETURN_IF_ERROR(r.Bool("include_bias", &include_bias));
    QS_RETURN_IF_ERROR(r.Bool("include_qkv_bias", &c.qkv_bias));
    if (include_bias) {
      return Unsupported(path + ": \"include_bias\": true (biases on every linear layer)");
    }
    std::string value;
    QS_RETURN_IF_ERROR(r.String("activation_type", &value));
    if (!value.empty() && value != "silu" && value != "swiglu") {
      return Unsupported(path + ": \"activation_type\": \"" + value + "\" (supported: silu)");
    }
    value.clear();
    QS_RETURN_IF_ERROR(r.String("block_type", &value));
    if (!value.empty() && value != "llama") {
      return Unsupported(path + ": \"block_type\": \"" + value + "\" (supported: llama)");
    }
    value.clear();
    QS_RETURN_IF_ERROR(r.String("layer_norm_type", &value));
    if (!value.empty() && value != "rms") {
      return Unsupported(path + ": \"layer_norm_type\": \"" + value + "\" (supported: rms)");
    }
    bool rope = true;
    QS_RETURN_IF_ERROR(r.Bool("rope", &rope));
    if (!rope) return Unsupported(path + ": \"rope\": false (only rotary positions are supported)");
    c.rms_norm_eps = 1e-5;
  } else {
    QS_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size, true));
    QS_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_layers, true));
    QS_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_heads, true));
    c.num_kv_heads = c.num_heads;
    QS_RETURN_IF_ERROR(r.Int("num_key_value_heads", &c.num_kv_heads, false));
    QS_RETURN_IF_ERROR(r.Int("intermediate_size", &c.intermediate_size, true));
    QS_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size, true));
    QS_RETURN_IF_ERROR(r.Int("max_position_embeddings", &c.max_position_embeddings, false));
    QS_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
    QS_RETURN_IF_ERROR(r.Int("head_dim", &c.head_dim, false));
    c.qkv_bias = c.arch == Architecture::kDream || c.arch == Architecture::kQwen2;
    QS_RETURN_IF_ERROR(r.Bool("attention_bias", &c.qkv_bias));
    std::string act;
    QS_RETURN_IF_ERROR(r.String("hidden_act", &act));
    if (!act.empty() && act != "silu") {
      return Unsupported(path + ": \"hidden_act\": \"" + act + "\" (supported: silu)");
    }
    bool sliding = false;
    QS_RETURN_IF_ERROR(r.Bool("use_sliding_window", &sliding));
    if (sliding) return Unsupported(path + ": \"use_sliding_window\": true");
    c.shift_logits = c.arch == Architecture::kDream;
  }
  // RoPE: transformers 4 writes rope_theta at the top; transformers 5 in rope_parameters.
  QS_RETURN_IF_ERROR(r.Double("rope_theta", &c.rope_theta));
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (!j[key].is_object()) return InvalidArgument(path + ": \"" + key + "\" must be an object");
    Reader rp(j[key], path + ": " + key);
    QS_RETURN_IF_ERROR(rp.Double("rope_theta", &c.rope_theta));
    std::string type;
    QS_RETURN_IF_ERROR(rp.String("rope_type", &type));
    if (type.empty()) QS_RETURN_IF_ERROR(rp.String("type", &type));
    if (!type.empty() && type != "default") {
      return Unsupported(path + ": " + key + ".rope_type \"" + type + "\" (supported: default)");
    }
  }
  QS_RETURN_IF_ERROR(r.Double("rms_norm_eps", &c.rms_norm_eps));
  QS_RETURN_IF_ERROR(r.Int("mask_token_id", &c.mask_token_id, false));
  QS_RETURN_IF_ERROR(r.Int("eos_token_id", &c.eos_token_id, false));
  QS_RETURN_IF_ERROR(r.Int("pad_token_id", &c.pad_token_id, false));

  QS_RETURN_IF_ERROR(Positive(path, "hidden size", c.hidden_size));
  QS_RETURN_IF_ERROR(Positive(path, "layers", c.num_layers));
  QS_RETURN_IF_ERROR(Positive(path, "attention heads", c.num_heads));
  QS_RETURN_IF_ERROR(Positive(path, "key/value heads", c.num_kv_heads));
  QS_RETURN_IF_ERROR(Positive(path, "MLP size", c.intermediate_size));
  QS_RETURN_IF_ERROR(Positive(path, "vocab_size", c.vocab_size));
  if (c.head_dim == 0) {
    if (c.hidden_size % c.num_heads != 0) {
      return InvalidArgument(path + ": hidden size " + std::to_string(c.hidden_size) +
                             " is not divisible by " + std::to_string(c.num_heads) + " heads");
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) return InvalidArgument(path + ": head_dim must be even for RoPE");
  if (c.num_heads % c.num_kv_heads != 0) {
    return InvalidArgument(path + ": " + std::to_string(c.num_heads) +
                           " attention heads are not a multiple of " +
                           std::to_string(c.num_kv_heads) + " key/value heads");
  }
  if (c.rope_theta <= 0 || c.rms_norm_eps <= 0) {
    return InvalidArgument(path + ": rope_theta and rms_norm_eps must be positive");
  }
  return c;
}

StatusOr<ModelConfig> LoadModelConfig(const std::string& dir) {
  const std::string path = dir + "/config.json";
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseModelConfig(text, path);
}

std::string ModelConfigToJson(const ModelConfig& c) {
  nlohmann::json j;
  j["model_type"] = ArchitectureName(c.arch);
  if (c.arch == Architecture::kLlada) {
    j["architectures"] = {"LLaDAModelLM"};
    j["d_model"] = c.hidden_size;
    j["n_layers"] = c.num_layers;
    j["n_heads"] = c.num_heads;
    j["n_kv_heads"] = c.num_kv_heads;
    j["mlp_hidden_size"] = c.intermediate_size;
    j["vocab_size"] = c.vocab_size;
    j["embedding_size"] = c.vocab_size;
    j["max_sequence_length"] = c.max_position_embeddings;
    j["weight_tying"] = c.tie_word_embeddings;
    j["include_qkv_bias"] = c.qkv_bias;
    j["activation_type"] = "silu";
    j["block_type"] = "llama";
    j["layer_norm_type"] = "rms";
    j["rope"] = true;
  } else {
    j["hidden_size"] = c.hidden_size;
    j["num_hidden_layers"] = c.num_layers;
    j["num_attention_heads"] = c.num_heads;
    j["num_key_value_heads"] = c.num_kv_heads;
    j["head_dim"] = c.head_dim;
    j["intermediate_size"] = c.intermediate_size;
    j["vocab_size"] = c.vocab_size;
    j["max_position_embeddings"] = c.max_position_embeddings;
    j["tie_word_embeddings"] = c.tie_word_embeddings;
    j["attention_bias"] = c.qkv_bias;
    j["hidden_act"] = "silu";
  }
  j["rope_theta"] = c.rope_theta;
  j["rms_norm_eps"] = c.rms_norm_eps;
  if (c.mask_token_id >= 0) j["mask_token_id"] = c.mask_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  return j.dump(2) + "\n";
}

}  // namespace qs::model
