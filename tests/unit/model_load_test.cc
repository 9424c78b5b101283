// Loading checkpoints into the transformer: a saved model loads back to the same logits
// in every layout, and every class of bad checkpoint fails with a message naming it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/files.h"
#include "model/io/safetensors.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {
namespace {

ModelConfig SmallConfig(Architecture arch) {
  ModelConfig c;
  c.arch = arch;
  c.model_type = ArchitectureName(arch);
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.intermediate_size = 48;
  c.vocab_size = 100;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-5;
  c.qkv_bias = arch == Architecture::kDream || arch == Architecture::kQwen2;
  c.mask_token_id = 99;
  c.eos_token_id = 98;
  return c;
}

std::string SaveModel(const Transformer& model, const std::string& name) {
  const std::string dir = std::string(QS_BINARY_DIR) + "/model_load_test_" + name;
  ::mkdir(dir.c_str(), 0755);
  EXPECT_TRUE(WriteFileAtomically(dir + "/config.json", ModelConfigToJson(model.config())).ok());
  Status s = model.Save(dir);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dir;
}

at::Tensor Ids() { return at::tensor({1, 5, 9, 99, 42, 7, 3, 0}, at::kLong).view({1, 8}); }

TEST(TransformerLoad, SavedModelsLoadBackToTheSameLogitsInEveryLayout) {
  for (Architecture arch :
       {Architecture::kLlada, Architecture::kDream, Architecture::kLlama, Architecture::kQwen2}) {
    auto model = Transformer::Random(SmallConfig(arch), 3, {});
    const std::string dir = SaveModel(*model, ArchitectureName(arch));
    StatusOr<std::unique_ptr<Transformer>> loaded = Transformer::Load(dir, {});
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    at::Tensor a = model->Forward(Ids()).logits;
    at::Tensor b = (*loaded)->Forward(Ids()).logits;
    EXPECT_TRUE(at::equal(a, b)) << ArchitectureName(arch);
  }
}

TEST(TransformerLoad, CausalDiffersFromBidirectionalOnlyBeforeTheLastPosition) {
  // One layer: with more, the last position sees keys that causal masking changed.
  ModelConfig c = SmallConfig(Architecture::kLlama);
  c.num_layers = 1;
  auto model = Transformer::Random(c, 5, {});
  ForwardOptions causal_options;
  causal_options.causal = true;
  at::Tensor bi = model->Forward(Ids()).logits;
  at::Tensor causal = model->Forward(Ids(), causal_options).logits;
  // The last position sees everything in both; the first sees only itself when causal.
  EXPECT_LT((bi.select(1, 7) - causal.select(1, 7)).abs().max().item<float>(), 1e-5);
  EXPECT_GT((bi.select(1, 0) - causal.select(1, 0)).abs().max().item<float>(), 1e-3);
}

TEST(TransformerLoad, TiedEmbeddingsNeedNoHead) {
  ModelConfig c = SmallConfig(Architecture::kQwen2);
  c.tie_word_embeddings = true;
  auto model = Transformer::Random(c, 9, {});
  const std::string dir = SaveModel(*model, "tied");
  StatusOr<CheckpointFiles> files = CheckpointFiles::Open(dir);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(files->Find("lm_head.weight"), nullptr);
  StatusOr<std::unique_ptr<Transformer>> loaded = Transformer::Load(dir, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(at::equal(model->Forward(Ids()).logits, (*loaded)->Forward(Ids()).logits));
}

// Rewrites dir/model.safetensors with `edit` applied to the list of tensors.
void RewriteWeights(
    const std::string& dir,
    const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  {
    auto file = SafetensorsFile::Open(dir + "/model.safetensors");
    ASSERT_TRUE(file.ok());
    for (const TensorInfo& info : (*file)->tensors()) {
      tensors.push_back({info.name, *ReadTensor(**file, info.name)});
    }
  }
  edit(tensors);
  std::vector<TensorToWrite> out;
  for (auto& [name, t] : tensors) {
    DType d = t.scalar_type() == at::kInt ? DType::kI32 : DType::kF32;
    out.push_back({name, d, t.sizes().vec(), t.data_ptr()});
  }
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", out).ok());
}

std::string FreshCopy(const std::string& name) {
  auto model = Transformer::Random(SmallConfig(Architecture::kLlama), 1, {});
  return SaveModel(*model, name);
}

void ExpectLoadError(const std::string& dir, const std::string& message) {
  StatusOr<std::unique_ptr<Transformer>> r = Transformer::Load(dir, {});
  ASSERT_FALSE(r.ok()) << dir;
  EXPECT_NE(r.status().message().find(message), std::string::npos)
      << "got: " << r.status().message();
}

TEST(TransformerLoad, MissingTensorsAreListed) {
  const std::string dir = FreshCopy("missing");
  RewriteWeights(dir, [](auto& t) {
    t.erase(
        std::remove_if(t.begin(), t.end(),
                       [](auto& p) { return p.first.find("layers.1.mlp") != std::string::npos; }),
        t.end());
  });
  ExpectLoadError(dir,
                  "3 missing tensors (llama layout): model.layers.1.mlp.gate_proj.weight, "
                  "model.layers.1.mlp.up_proj.weight, model.layers.1.mlp.down_proj.weight");
}

TEST(TransformerLoad, UnexpectedTensorsAreListed) {
  const std::string dir = FreshCopy("unexpected");
  RewriteWeights(dir, [](auto& t) {
    t.push_back({"model.layers.9.extra.weight", at::zeros({2})});
  });
  ExpectLoadError(dir, "1 unexpected tensors (llama layout): model.layers.9.extra.weight");
}

TEST(TransformerLoad, ShapeMismatchWithConfigNamesBothShapes) {
  const std::string dir = FreshCopy("shape");
  RewriteWeights(dir, [](auto& t) {
    for (auto& p : t) {
      if (p.first == "model.layers.0.self_attn.k_proj.weight") p.second = at::zeros({32, 32});
    }
  });
  ExpectLoadError(
      dir, "model.layers.0.self_attn.k_proj.weight is [32, 32], config.json implies [16, 32]");
}

TEST(TransformerLoad, IntegerWeightsAreUnsupported) {
  const std::string dir = FreshCopy("dtype");
  RewriteWeights(dir, [](auto& t) {
    for (auto& p : t) {
      if (p.first == "model.norm.weight") p.second = at::zeros({32}, at::kInt);
    }
  });
  ExpectLoadError(dir, "dtype other than F32, BF16, F16: model.norm.weight (I32)");
}

TEST(TransformerLoad, TruncatedFileAndUnknownModelType) {
  const std::string dir = FreshCopy("truncated");
  StatusOr<std::string> bytes = ReadFile(dir + "/model.safetensors");
  ASSERT_TRUE(bytes.ok());
  std::ofstream(dir + "/model.safetensors", std::ios::binary | std::ios::trunc)
      << bytes->substr(0, bytes->size() - 100);
  ExpectLoadError(dir, "out of range of the");

  const std::string other = FreshCopy("model_type");
  ASSERT_TRUE(WriteFileAtomically(other + "/config.json", R"({"model_type": "mamba"})").ok());
  ExpectLoadError(other, "unknown model_type \"mamba\"");
}

}  // namespace
}  // namespace qs::model
