// The samplers beyond the published traces: seeds, EOS handling and early stop, a toy
// constraint (digits only, left to right, one forced token) over a random tiny model, and
// the facade's validation of options.
#include "model/sampler.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "model/diffusion_lm.h"
#include "model/transformer.h"

namespace qs::model {
namespace {

constexpr int64_t kVocab = 64;
constexpr int64_t kMask = 63;
constexpr int64_t kEos = 62;

ModelConfig TinyConfig() {
  ModelConfig c;
  c.arch = Architecture::kLlada;
  c.model_type = "llada";
  c.hidden_size = 32;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.intermediate_size = 48;
  c.vocab_size = kVocab;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-5;
  c.mask_token_id = kMask;
  c.eos_token_id = kEos;
  return c;
}

at::Tensor Prompt(int64_t batch) {
  return at::tensor({1, 5, 9, 42, 7, 3}, at::kLong).view({1, 6}).repeat({batch, 1});
}

SamplerConfig Config(SamplerKind kind) {
  SamplerConfig c;
  c.kind = kind;
  c.gen_length = 16;
  c.block_length = kind == SamplerKind::kDream ? 0 : 8;
  c.steps = 8;
  c.mask_id = kMask;
  c.eos_id = -1;
  c.threshold = kind == SamplerKind::kFastDllmThreshold ? 0.03 : 0.9;
  return c;
}

// Configurations that draw random numbers.
std::vector<SamplerConfig> RandomConfigs() {
  std::vector<SamplerConfig> out;
  SamplerConfig llada = Config(SamplerKind::kLlada);
  llada.temperature = 1.0;
  llada.remasking = Remasking::kRandom;
  out.push_back(llada);
  SamplerConfig fast = Config(SamplerKind::kFastDllmThreshold);
  fast.temperature = 0.8;
  out.push_back(fast);
  SamplerConfig origin = Config(SamplerKind::kDream);
  origin.alg = DreamAlg::kOrigin;
  origin.temperature = 1.0;
  out.push_back(origin);
  SamplerConfig dream = Config(SamplerKind::kDream);
  dream.alg = DreamAlg::kEntropy;
  dream.temperature = 1.0;
  dream.top_p = 0.95;
  dream.top_k = 40;
  dream.alg_temp = 0.5;
  out.push_back(dream);
  return out;
}

std::string Describe(const SamplerConfig& c) {
  return std::string(SamplerKindName(c.kind)) + "/" + DreamAlgName(c.alg);
}

TEST(SamplerSeeds, SameSeedSameCanvasDifferentSeedDifferentCanvas) {
  std::unique_ptr<Transformer> model = Transformer::Random(TinyConfig(), 7, {});
  TransformerLogits source(*model);
  for (SamplerConfig c : RandomConfigs()) {
    auto run = [&](uint64_t seed) {
      c.seed = seed;
      StatusOr<SamplerResult> r = RunSampler(Prompt(2), c, source);
      EXPECT_TRUE(r.ok()) << Describe(c) << ": " << r.status().ToString();
      return r.ok() ? r->canvas : at::Tensor();
    };
    at::Tensor a = run(1), b = run(1), d = run(2);
    ASSERT_TRUE(a.defined() && b.defined() && d.defined());
    EXPECT_TRUE(at::equal(a, b)) << Describe(c);
    EXPECT_FALSE(at::equal(a, d)) << Describe(c);
    EXPECT_EQ(a.ne(kMask).all().item<bool>(), true) << Describe(c) << ": masks left";
  }
}

TEST(SamplerSeeds, GreedyIgnoresTheSeed) {
  std::unique_ptr<Transformer> model = Transformer::Random(TinyConfig(), 7, {});
  TransformerLogits source(*model);
  SamplerConfig c = Config(SamplerKind::kLlada);
  c.seed = 1;
  StatusOr<SamplerResult> a = RunSampler(Prompt(1), c, source);
  c.seed = 2;
  StatusOr<SamplerResult> b = RunSampler(Prompt(1), c, source);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(at::equal(a->canvas, b->canvas));
}

// Answers tokens 10, 11, ... for the first `answer` generated positions (logit 5), then EOS
// (logit 10, so the EOS tail is the most confident and commits first).
class ScriptedLogits : public LogitsSource {
 public:
  ScriptedLogits(int64_t prompt_length, int64_t answer)
      : prompt_length_(prompt_length), answer_(answer) {}
  StatusOr<at::Tensor> Logits(const at::Tensor& ids) override {
    ++calls;
    at::Tensor logits = at::zeros({ids.size(0), ids.size(1), kVocab});
    for (int64_t p = prompt_length_; p < ids.size(1); ++p) {
      const int64_t i = p - prompt_length_;
      if (i < answer_) {
        logits.select(1, p).select(1, 10 + i).fill_(5.0);
      } else {
        logits.select(1, p).select(1, kEos).fill_(10.0);
      }
    }
    return logits;
  }
  int64_t vocab_size() const override { return kVocab; }
  int64_t calls = 0;

 private:
  int64_t prompt_length_, answer_;
};

TEST(SamplerEos, TheRestFillsWithEosAndEarlyStopSavesModelCalls) {
  SamplerConfig c = Config(SamplerKind::kLlada);
  c.gen_length = 32;
  c.block_length = 8;
  c.steps = 32;  // one token per step
  c.eos_id = kEos;
  for (bool early_stop : {true, false}) {
    c.early_stop = early_stop;
    ScriptedLogits source(6, 5);
    StatusOr<SamplerResult> r = RunSampler(Prompt(1), c, source);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // Block 0 holds the 5 answer tokens and 3 EOS: complete after its 8 steps.
    EXPECT_EQ(r->model_calls, early_stop ? 8 : 32);
    EXPECT_EQ(source.calls, r->model_calls);
    EXPECT_EQ(r->stopped_early, early_stop);
    EXPECT_TRUE(r->canvas.narrow(1, 6 + 5, 32 - 5).eq(kEos).all().item<bool>());
    Answer answer = ExtractAnswer(r->canvas, 0, 6, kEos);
    EXPECT_EQ(answer.ids, (std::vector<int32_t>{10, 11, 12, 13, 14}));
    EXPECT_TRUE(answer.ended_with_eos);
  }
}

TEST(SamplerEos, DreamAndFastDllmEndWithTheSameAnswer) {
  for (SamplerKind kind : {SamplerKind::kDream, SamplerKind::kFastDllmThreshold}) {
    SamplerConfig c = Config(kind);
    c.gen_length = 16;
    c.eos_id = kEos;
    ScriptedLogits source(6, 4);
    StatusOr<SamplerResult> r = RunSampler(Prompt(1), c, source);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Answer answer = ExtractAnswer(r->canvas, 0, 6, kEos);
    EXPECT_EQ(answer.ids, (std::vector<int32_t>{10, 11, 12, 13})) << SamplerKindName(kind);
    EXPECT_TRUE(r->canvas.narrow(1, 10, 12).eq(kEos).all().item<bool>());
  }
}

TEST(SamplerEos, ExtractAnswerWithoutEosKeepsEverything) {
  at::Tensor canvas = at::tensor({1, 2, 3, 4, 5}, at::kLong).view({1, 5});
  Answer a = ExtractAnswer(canvas, 0, 2, kEos);
  EXPECT_EQ(a.ids, (std::vector<int32_t>{3, 4, 5}));
  EXPECT_FALSE(a.ended_with_eos);
  EXPECT_EQ(ExtractAnswer(canvas, 0, 2, 4).ids, (std::vector<int32_t>{3}));
}

// Digits (tokens 10..19) only, committed strictly left to right; position 3 of the answer
// is forced to token 42.
class DigitsLeftToRight : public Constraint {
 public:
  static constexpr int64_t kForcedOffset = 3;
  static constexpr int32_t kForcedToken = 42;

  Status ForcedTokens(const CanvasView& canvas, std::vector<TokenCommit>* forced) override {
    const int64_t p = canvas.prompt_length + kForcedOffset;
    if (canvas.masked(p)) forced->push_back({p, kForcedToken});
    return Status::Ok();
  }
  bool MayCommit(const CanvasView& canvas, int64_t position) override {
    return position == FirstMasked(canvas);
  }
  bool AllowedTokens(const CanvasView& canvas, int64_t position, int vocab,
                     uint32_t* words) override {
    for (int t = 10; t < 20; ++t) words[t / 32] |= 1u << (t % 32);
    return true;
  }
  Status OnCommit(const CanvasView& canvas, const std::vector<TokenCommit>& commits) override {
    for (const TokenCommit& c : commits) {
      const bool forced = c.position == canvas.prompt_length + kForcedOffset;
      // Left to right: everything before a committed position is committed.
      for (int64_t p = canvas.prompt_length; p < c.position && !forced; ++p) {
        if (canvas.masked(p)) out_of_order = true;
      }
      if (forced) ++forced_commits;
      order.push_back(c.position);
    }
    return Status::Ok();
  }

  bool out_of_order = false;
  int forced_commits = 0;
  std::vector<int64_t> order;

 private:
  static int64_t FirstMasked(const CanvasView& canvas) {
    for (int64_t p = canvas.prompt_length; p < canvas.length; ++p) {
      if (canvas.masked(p)) return p;
    }
    return -1;
  }
};

class CountSteps : public StepObserver {
 public:
  void OnStep(const StepEvent& e) override {
    last_calls = e.model_calls;
    ++events;
  }
  int64_t events = 0, last_calls = 0;
};

TEST(SamplerConstraint, OutputObeysAToyConstraintWithEverySampler) {
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(TinyConfig(), 11);
  std::vector<SamplerConfig> configs;
  for (SamplerKind kind :
       {SamplerKind::kLlada, SamplerKind::kFastDllmThreshold, SamplerKind::kDream}) {
    configs.push_back(Config(kind));
  }
  configs[0].steps = 4;  // two tokens a step scheduled, one allowed: needs extra steps
  for (DreamAlg alg : {DreamAlg::kOrigin, DreamAlg::kTopkMargin, DreamAlg::kConfidenceThreshold}) {
    SamplerConfig c = Config(SamplerKind::kDream);
    c.alg = alg;
    configs.push_back(c);
  }
  SamplerConfig sampled = Config(SamplerKind::kLlada);
  sampled.temperature = 1.0;
  configs.push_back(sampled);
  for (const SamplerConfig& c : configs) {
    GenerateOptions options;
    options.sampler = c;
    options.sampler.eos_id = -1;  // the model's
    DigitsLeftToRight constraint;
    CountSteps observer;
    const std::vector<int32_t> prompt = {1, 5, 9, 42, 7, 3};
    StatusOr<GenerateResult> r = lm->Generate(prompt, options, &constraint, &observer);
    ASSERT_TRUE(r.ok()) << Describe(c) << ": " << r.status().ToString();
    ASSERT_EQ(r->ids.size(), 16u) << Describe(c);
    for (size_t i = 0; i < r->ids.size(); ++i) {
      if (i == DigitsLeftToRight::kForcedOffset) {
        EXPECT_EQ(r->ids[i], DigitsLeftToRight::kForcedToken) << Describe(c);
      } else {
        EXPECT_TRUE(r->ids[i] >= 10 && r->ids[i] < 20) << Describe(c) << " position " << i;
      }
    }
    EXPECT_FALSE(constraint.out_of_order) << Describe(c);
    EXPECT_EQ(constraint.forced_commits, 1) << Describe(c);
    EXPECT_EQ(constraint.order.size(), 16u) << Describe(c);
    // One model token per call (origin may reveal nothing in a call).
    if (c.alg != DreamAlg::kOrigin) {
      EXPECT_EQ(r->model_calls, 15) << Describe(c);
    }
    EXPECT_GE(r->model_calls, 15) << Describe(c);
    EXPECT_EQ(observer.last_calls, r->model_calls) << Describe(c);
    EXPECT_GE(observer.events, r->model_calls) << Describe(c);
  }
}

// Ranks the mask token first everywhere (as a small model with tied embeddings may at
// masked positions), then tokens 10, 11, ...: committing the mask would change nothing.
class MaskFirstLogits : public LogitsSource {
 public:
  explicit MaskFirstLogits(int64_t prompt_length) : prompt_length_(prompt_length) {}
  StatusOr<at::Tensor> Logits(const at::Tensor& ids) override {
    at::Tensor logits = at::zeros({ids.size(0), ids.size(1), kVocab});
    logits.select(2, kMask).fill_(20.0);
    for (int64_t p = prompt_length_; p < ids.size(1); ++p) {
      logits.select(1, p).select(1, 10 + (p - prompt_length_)).fill_(5.0);
    }
    return logits;
  }
  int64_t vocab_size() const override { return kVocab; }

 private:
  int64_t prompt_length_;
};

TEST(SamplerMask, AModelThatRanksTheMaskFirstStillFillsTheCanvas) {
  for (SamplerKind kind :
       {SamplerKind::kLlada, SamplerKind::kFastDllmThreshold, SamplerKind::kDream}) {
    SamplerConfig c = Config(kind);
    c.gen_length = 8;
    c.block_length = kind == SamplerKind::kDream ? 0 : 8;
    c.steps = 8;
    MaskFirstLogits source(6);
    StatusOr<SamplerResult> r = RunSampler(Prompt(1), c, source);
    ASSERT_TRUE(r.ok()) << SamplerKindName(kind) << ": " << r.status().ToString();
    std::vector<int64_t> answer(r->canvas.data_ptr<int64_t>() + 6,
                                r->canvas.data_ptr<int64_t>() + 14);
    EXPECT_EQ(answer, (std::vector<int64_t>{10, 11, 12, 13, 14, 15, 16, 17}))
        << SamplerKindName(kind);
  }
}

// Takes none of the model's proposals: a threshold step would commit nothing forever.
class RejectsEveryProposal : public Constraint {
 public:
  bool AllowedTokens(const CanvasView&, int64_t, int, uint32_t*) override { return false; }
  void ChooseCommits(const CanvasView&, const std::vector<ProposedToken>&,
                     std::vector<int64_t>* chosen) override {
    chosen->clear();
  }
};

// A random tiny model's generation of a 3-token prompt under `constraint`.
StatusOr<GenerateResult> GenerateUnder(SamplerKind kind, Constraint* constraint) {
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(TinyConfig(), 11);
  GenerateOptions options;
  options.sampler = Config(kind);
  return lm->Generate({1, 2, 3}, options, constraint);
}

TEST(SamplerConstraint, AThresholdStepThatCommitsNothingFailsInsteadOfLooping) {
  RejectsEveryProposal constraint;
  StatusOr<GenerateResult> r = GenerateUnder(SamplerKind::kFastDllmThreshold, &constraint);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("made no progress"), std::string::npos)
      << r.status().ToString();
}

// Allows no token anywhere: denoising cannot progress and says so.
class NothingAllowed : public Constraint {
 public:
  bool AllowedTokens(const CanvasView&, int64_t, int, uint32_t*) override { return true; }
};

TEST(SamplerConstraint, AConstraintThatBlocksEverythingFails) {
  NothingAllowed constraint;
  StatusOr<GenerateResult> r = GenerateUnder(SamplerKind::kLlada, &constraint);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("cannot progress"), std::string::npos)
      << r.status().ToString();
}

TEST(DiffusionLmFacade, GeneratesDeterministicallyWithTheModelsDefaults) {
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(TinyConfig(), 3);
  GenerateOptions options = lm->DefaultOptions();
  EXPECT_EQ(options.sampler.kind, SamplerKind::kLlada);
  EXPECT_EQ(options.sampler.mask_id, kMask);
  options.sampler.gen_length = 16;
  options.sampler.block_length = 8;
  options.sampler.steps = 8;
  StatusOr<GenerateResult> a = lm->Generate({1, 2, 3}, options);
  StatusOr<GenerateResult> b = lm->Generate({1, 2, 3}, options);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString();
  EXPECT_EQ(a->ids, b->ids);
  EXPECT_LE(a->ids.size(), 16u);
  EXPECT_GT(a->model_calls, 0);
  EXPECT_GE(a->seconds, 0.0);
  for (int32_t id : a->ids) EXPECT_TRUE(id != kMask && id != kEos);
}

// PredictAt: the logits of one canvas position with that position masked, the rest as
// given; the same row a full forward computes (the row before it for Dream).
TEST(DiffusionLmFacade, PredictAtIsTheForwardRowOfTheMaskedPosition) {
  for (bool shifted : {false, true}) {
    ModelConfig config = TinyConfig();
    config.shift_logits = shifted;
    std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(config, 5);
    const std::vector<int32_t> prompt = {1, 2, 3};
    const std::vector<int32_t> canvas = {10, 11, 12, 13, kEos, kEos};
    StatusOr<std::vector<float>> got = lm->PredictAt(prompt, canvas, 2);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), static_cast<size_t>(kVocab));
    at::Tensor ids =
        at::tensor(std::vector<int64_t>{1, 2, 3, 10, 11, kMask, 13, kEos, kEos}).view({1, 9});
    at::Tensor want = lm->transformer().Forward(ids).logits[0][shifted ? 4 : 5];
    for (int64_t v = 0; v < kVocab; ++v) {
      EXPECT_NEAR((*got)[static_cast<size_t>(v)], want[v].item<float>(), 1e-4) << v;
    }
    // The rest of the canvas is in view: another token elsewhere changes the prediction.
    std::vector<int32_t> other = canvas;
    other[4] = 20;
    StatusOr<std::vector<float>> changed = lm->PredictAt(prompt, other, 2);
    ASSERT_TRUE(changed.ok());
    EXPECT_NE(*changed, *got);
  }
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(TinyConfig(), 5);
  EXPECT_EQ(lm->PredictAt({1}, {10, 11}, 2).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(lm->PredictAt({1}, {10, 99}, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(DiffusionLmFacade, DreamCheckpointsDefaultToTheDreamSampler) {
  ModelConfig config = TinyConfig();
  config.arch = Architecture::kDream;
  config.model_type = "Dream";
  config.qkv_bias = true;
  config.shift_logits = true;
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(config, 3);
  GenerateOptions options = lm->DefaultOptions();
  EXPECT_EQ(options.sampler.kind, SamplerKind::kDream);
  options.sampler.gen_length = 8;
  options.sampler.steps = 4;
  StatusOr<GenerateResult> r = lm->Generate({1, 2, 3}, options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST(DiffusionLmFacade, InvalidOptionsSayWhatAndHowToFix) {
  std::unique_ptr<DiffusionLm> lm = DiffusionLm::Random(TinyConfig(), 3);
  auto error = [&](const std::vector<int32_t>& prompt, const GenerateOptions& options) {
    StatusOr<GenerateResult> r = lm->Generate(prompt, options);
    return r.ok() ? std::string() : r.status().message();
  };
  GenerateOptions base;
  base.sampler.gen_length = 32;
  base.sampler.block_length = 8;
  base.sampler.steps = 32;
  ASSERT_EQ(error({1}, base), "") << "the base options must be valid";

  GenerateOptions o = base;
  o.sampler.gen_length = 30;
  EXPECT_NE(error({1}, o).find("gen_length 30 is not a multiple of block_length 8"),
            std::string::npos);
  o = base;
  o.sampler.steps = 6;
  EXPECT_NE(error({1}, o).find("use a multiple of 4 for steps"), std::string::npos);
  EXPECT_NE(error({}, base).find("the prompt is empty"), std::string::npos);
  EXPECT_NE(error({1, 64}, base).find("outside the model's vocabulary"), std::string::npos);
  o = base;
  o.sampler.kind = SamplerKind::kDream;
  EXPECT_NE(error({1}, o).find("set block_length to 0"), std::string::npos);
  o = base;
  o.sampler.mask_id = 64;
  EXPECT_NE(error({1}, o).find("outside the vocabulary"), std::string::npos);

  ModelConfig no_mask = TinyConfig();
  no_mask.mask_token_id = -1;
  std::unique_ptr<DiffusionLm> lm2 = DiffusionLm::Random(no_mask, 3);
  StatusOr<GenerateResult> r = lm2->Generate({1}, base);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("mask token id is unknown"), std::string::npos)
      << r.status().ToString();
}

TEST(SamplerNames, RoundTrip) {
  for (SamplerKind k :
       {SamplerKind::kLlada, SamplerKind::kFastDllmThreshold, SamplerKind::kDream}) {
    EXPECT_EQ(*ParseSamplerKind(SamplerKindName(k)), k);
  }
  for (DreamAlg a : {DreamAlg::kOrigin, DreamAlg::kMaskgitPlus, DreamAlg::kTopkMargin,
                     DreamAlg::kEntropy, DreamAlg::kConfidenceThreshold}) {
    EXPECT_EQ(*ParseDreamAlg(DreamAlgName(a)), a);
  }
  EXPECT_FALSE(ParseSamplerKind("mdlm").ok());
  EXPECT_FALSE(ParseRemasking("lowest").ok());
}

// Fast-dLLM's KV cache. Exact parts: a full forward that fills the cache gives Forward's
// logits, and with the canvas unchanged since then, recomputing any range against the
// cache gives Forward's logits for that range (the cached keys / values are exactly the
// ones a full forward computes). Approximate part: after commits, positions outside the
// range keep stale keys / values; generation still completes, with the same number of
// steps, and the cache saves forwards over the whole canvas.
TEST(KvCache, RangesAgainstAFreshCacheEqualTheFullForward) {
  std::unique_ptr<Transformer> model = Transformer::Random(TinyConfig(), 3, {});
  at::Tensor ids = at::randint(0, kVocab - 2, {2, 24}, at::kLong);
  const at::Tensor full = model->Forward(ids).logits;
  KvCacheState cache;
  const at::Tensor stored = model->ForwardRange(ids, 0, 24, &cache, /*store=*/true);
  EXPECT_TRUE(at::equal(stored, full));
  ASSERT_EQ(cache.k.size(), 2u);
  EXPECT_EQ(cache.k[0].sizes(), (std::vector<int64_t>{2, 2, 24, 8}));
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{8, 16}, {0, 5}, {16, 24}, {3, 24}}) {
    const at::Tensor part = model->ForwardRange(ids, begin, end, &cache, /*store=*/false);
    EXPECT_TRUE(at::allclose(part, full.slice(1, begin, end), 1e-5, 1e-5))
        << begin << ".." << end << " max diff "
        << (part - full.slice(1, begin, end)).abs().max().item<float>();
  }
  // A changed token inside the range: the range sees it, the cached rest does not.
  at::Tensor changed = ids.clone();
  changed[0][10] = 5;
  const at::Tensor exact = model->Forward(changed).logits.slice(1, 8, 16);
  const at::Tensor approx = model->ForwardRange(changed, 8, 16, &cache, false);
  EXPECT_FALSE(at::equal(approx, model->ForwardRange(ids, 8, 16, &cache, false)));
  EXPECT_LT((approx - exact).abs().max().item<float>(), 1.0);
}

// The LM head only at the rows a step reads: the same logits as the full forward's rows,
// uncached, on a refreshing cached call, on a ranged call, and on a ranged call widened to
// a row before the scope (Dream reads the position before each masked one).
TEST(KvCache, LogitsAtRowsEqualTheFullForwardsRows) {
  std::unique_ptr<Transformer> model = Transformer::Random(TinyConfig(), 4, {});
  at::Tensor ids = at::randint(0, kVocab - 2, {2, 24}, at::kLong);
  const at::Tensor full = model->Forward(ids).logits;
  auto rows_of_full = [&](const std::vector<int64_t>& rows) {
    return full.index_select(1, at::tensor(c10::ArrayRef<int64_t>(rows)));
  };
  auto expect_rows = [&](StatusOr<at::Tensor> got, const std::vector<int64_t>& rows,
                         const char* what) {
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->sizes(), (std::vector<int64_t>{2, static_cast<int64_t>(rows.size()), kVocab}))
        << what;
    EXPECT_TRUE(at::allclose(*got, rows_of_full(rows), 1e-5, 1e-5)) << what;
  };
  TransformerLogits plain(*model);
  expect_rows(plain.LogitsAt(ids, {1, 5, 23}), {1, 5, 23}, "uncached");
  for (KvCache mode : {KvCache::kPrefix, KvCache::kDual}) {
    CachedTransformerLogits cached(*model, mode);
    cached.BeginScope(8, 16);
    expect_rows(cached.LogitsAt(ids, {9, 12}), {9, 12}, "refreshing call");
    expect_rows(cached.LogitsAt(ids, {9, 12, 15}), {9, 12, 15}, "ranged call");
    expect_rows(cached.LogitsAt(ids, {7, 12}), {7, 12}, "widened ranged call");
    expect_rows(cached.Logits(ids),
                std::vector<int64_t>{0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23},
                "every row");
    EXPECT_EQ(cached.full_forwards(), 1) << KvCacheName(mode);
    EXPECT_FALSE(cached.LogitsAt(ids, {}).ok());
    EXPECT_FALSE(cached.LogitsAt(ids, {24}).ok());
  }
}

TEST(KvCache, GenerationWithEachCacheCompletesAndSavesFullForwards) {
  std::unique_ptr<Transformer> model = Transformer::Random(TinyConfig(), 5, {});
  for (SamplerKind kind : {SamplerKind::kLlada, SamplerKind::kFastDllmThreshold}) {
    SamplerConfig c = Config(kind);
    TransformerLogits plain(*model);
    StatusOr<SamplerResult> want = RunSampler(Prompt(1), c, plain);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    for (KvCache mode : {KvCache::kNone, KvCache::kPrefix, KvCache::kDual}) {
      CachedTransformerLogits cached(*model, mode);
      StatusOr<SamplerResult> got = RunSampler(Prompt(1), c, cached);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->canvas.eq(kMask).sum().item<int64_t>(), 0) << KvCacheName(mode);
      EXPECT_TRUE(at::equal(got->canvas.slice(1, 0, 6), Prompt(1)));
      if (mode == KvCache::kNone) {
        // Every call a full forward: exactly the uncached run.
        EXPECT_TRUE(at::equal(got->canvas, want->canvas));
        EXPECT_EQ(cached.full_forwards(), got->model_calls);
      } else {
        // One full forward per block (2 blocks of 8), the other calls on the block only.
        EXPECT_EQ(cached.full_forwards(), 2) << KvCacheName(mode);
        EXPECT_GT(got->model_calls, 2);
      }
    }
  }
}

}  // namespace
}  // namespace qs::model
