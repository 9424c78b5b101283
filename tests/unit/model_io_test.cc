// safetensors and config.json parsing: real fixture files read back, and every class of
// broken file rejected with a message naming the problem (never a crash).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "base/files.h"
#include "model/io/model_config.h"
#include "model/io/safetensors.h"

namespace qs::model {
namespace {

const std::string kModels = std::string(QS_SHARED_DIR) + "/fixtures/models";

std::string TempDir(const std::string& name) {
  std::string dir = std::string(QS_BINARY_DIR) + "/model_io_test_" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

void WriteRaw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A safetensors image with the given JSON header and `data_bytes` zero bytes of data.
std::string Image(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + std::string(data_bytes, '\0');
}

TEST(Safetensors, ReadsTheShardedFixture) {
  StatusOr<CheckpointFiles> ckpt = CheckpointFiles::Open(kModels + "/tiny-llada");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  EXPECT_EQ(ckpt->tensors().size(), 21u);  // 2 x 9 block tensors + wte, ln_f, ff_out
  const CheckpointFiles::Entry* wte = ckpt->Find("model.transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->info->dtype, DType::kF32);
  EXPECT_EQ(wte->info->shape, (std::vector<int64_t>{1024, 64}));
  EXPECT_EQ(ckpt->total_bytes(), 869632u);  // the index's metadata.total_size
}

TEST(Safetensors, RoundTripsWhatItWrites) {
  const std::string path = TempDir("roundtrip") + "/t.safetensors";
  std::vector<float> a = {1.f, -2.f, 3.5f, 0.25f, 5.f, 6.f};
  std::vector<int64_t> b = {7, 8};
  ASSERT_TRUE(WriteSafetensors(
                  path, {{"a", DType::kF32, {2, 3}, a.data()}, {"b", DType::kI64, {2}, b.data()}},
                  {{"note", "hi"}})
                  .ok());
  StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->metadata().at("note"), "hi");
  const TensorInfo* info = (*f)->Find("a");
  ASSERT_NE(info, nullptr);
  float got[6];
  std::memcpy(got, (*f)->Data(*info), sizeof(got));
  EXPECT_EQ(std::vector<float>(got, got + 6), a);
}

TEST(Safetensors, BrokenFilesAreRejectedWithTheReason) {
  struct Case {
    std::string name, bytes, message;
  };
  const std::string ok_header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::vector<Case> cases = {
      {"empty", "", "truncated safetensors file (0 bytes"},
      {"short_length", "\x05\x00", "truncated safetensors file"},
      {"header_past_end", Image(ok_header, 16).substr(0, 20), "exceeds the file size"},
      {"truncated_data", Image(ok_header, 10), "out of range of the 10-byte data buffer"},
      {"bad_json", Image("{not json", 0), "header is not valid JSON"},
      {"unknown_dtype", Image(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1),
       "unknown dtype F8_E4M3"},
      {"size_mismatch", Image(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "needs 12"},
      {"negative_dim", Image(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
       "negative dimension"},
      {"overlap",
       Image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             12),
       "overlap"},
      {"missing_fields", Image(R"({"w":{"dtype":"F32"}})", 0),
       "needs dtype, shape and data_offsets"},
      {"huge_shape",
       Image(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4),
       "too large"},
  };
  const std::string dir = TempDir("broken");
  for (const Case& c : cases) {
    const std::string path = dir + "/" + c.name + ".safetensors";
    WriteRaw(path, c.bytes);
    StatusOr<std::unique_ptr<SafetensorsFile>> f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.status().message().find(c.message), std::string::npos)
        << c.name << ": " << f.status().message();
    EXPECT_NE(f.status().message().find(path), std::string::npos) << c.name;
  }
}

TEST(Safetensors, ShardIndexProblems) {
  const std::string dir = TempDir("index");
  WriteRaw(dir + "/model.safetensors.index.json",
           R"({"weight_map": {"w": "a.safetensors", "v": "b.safetensors"}})");
  WriteRaw(dir + "/a.safetensors",
           Image(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4));
  StatusOr<CheckpointFiles> r = CheckpointFiles::Open(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("b.safetensors"), std::string::npos) << r.status().message();

  WriteRaw(dir + "/model.safetensors.index.json", R"({"weight_map": {"w": "../a.safetensors"}})");
  r = CheckpointFiles::Open(dir);
  EXPECT_NE(r.status().message().find("must be a plain file name"), std::string::npos);

  const std::string empty = TempDir("no_weights");
  r = CheckpointFiles::Open(empty);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("no model.safetensors"), std::string::npos);
}

TEST(ModelConfig, ReadsAllFourLayouts) {
  struct Case {
    std::string folder;
    Architecture arch;
    double rope_theta, eps;
    bool bias;
    int64_t mask;
  };
  for (const Case& c : std::vector<Case>{
           {"tiny-llada", Architecture::kLlada, 5e5, 1e-5, false, 1023},
           {"tiny-dream", Architecture::kDream, 1e6, 1e-6, true, 1023},
           {"tiny-llama-hf", Architecture::kLlama, 5e5, 1e-5, false, -1},  // rope_parameters
           {"tiny-qwen2-hf", Architecture::kQwen2, 1e6, 1e-6, true, -1},
       }) {
    StatusOr<ModelConfig> cfg = LoadModelConfig(kModels + "/" + c.folder);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    EXPECT_EQ(cfg->arch, c.arch) << c.folder;
    EXPECT_EQ(cfg->hidden_size, 64);
    EXPECT_EQ(cfg->num_layers, 2);
    EXPECT_EQ(cfg->num_heads, 4);
    EXPECT_EQ(cfg->num_kv_heads, 2);
    EXPECT_EQ(cfg->head_dim, 16);
    EXPECT_EQ(cfg->intermediate_size, 160);
    EXPECT_EQ(cfg->vocab_size, 1024);
    EXPECT_DOUBLE_EQ(cfg->rope_theta, c.rope_theta) << c.folder;
    EXPECT_DOUBLE_EQ(cfg->rms_norm_eps, c.eps) << c.folder;
    EXPECT_EQ(cfg->qkv_bias, c.bias) << c.folder;
    EXPECT_EQ(cfg->mask_token_id, c.mask) << c.folder;
    EXPECT_EQ(cfg->shift_logits, c.arch == Architecture::kDream);
  }
}

TEST(ModelConfig, RoundTripsThroughJson) {
  StatusOr<ModelConfig> a = LoadModelConfig(kModels + "/tiny-dream");
  ASSERT_TRUE(a.ok());
  StatusOr<ModelConfig> b = ParseModelConfig(ModelConfigToJson(*a), "x");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->arch, a->arch);
  EXPECT_EQ(b->num_kv_heads, a->num_kv_heads);
  EXPECT_EQ(b->qkv_bias, a->qkv_bias);
  EXPECT_EQ(b->mask_token_id, a->mask_token_id);
  EXPECT_DOUBLE_EQ(b->rope_theta, a->rope_theta);
}

TEST(ModelConfig, BadConfigsNameTheProblem) {
  struct Case {
    std::string json, message;
    StatusCode code = StatusCode::kInvalidArgument;
  };
  const std::string base =
      R"("hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, )"
      R"("intermediate_size": 160, "vocab_size": 1024)";
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {R"({"model_type": "gpt2"})", "unknown model_type \"gpt2\"", StatusCode::kUnsupported},
      {"{" + base + "}", "missing \"model_type\""},
      {R"({"model_type": "llama", "hidden_size": 64})", "missing \"num_hidden_layers\""},
      {R"({"model_type": "llama", )" + base + R"(, "num_key_value_heads": 3})",
       "not a multiple of 3 key/value heads"},
      {R"({"model_type": "llama", )" + base + R"(, "hidden_act": "gelu"})",
       "\"hidden_act\": \"gelu\"", StatusCode::kUnsupported},
      {R"({"model_type": "llama", )" + base +
           R"(, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1}})",
       "rope_type \"yarn\"", StatusCode::kUnsupported},
      {R"({"model_type": "llama", )" + base + R"(, "vocab_size": "many"})",
       "\"vocab_size\" must be an integer"},
      {R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 0, )"
       R"("num_attention_heads": 4, "intermediate_size": 160, "vocab_size": 1024})",
       "\"layers\" must be positive"},
  };
  for (const Case& c : cases) {
    StatusOr<ModelConfig> r = ParseModelConfig(c.json, "m/config.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), c.code) << c.json;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.json << " -> " << r.status().message();
    EXPECT_EQ(r.status().message().rfind("m/config.json", 0), 0u) << r.status().message();
  }
}

}  // namespace
}  // namespace qs::model
