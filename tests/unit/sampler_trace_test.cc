// Replays the traces of the published samplers (shared/fixtures/samplers: LLaDA
// generate.py, Fast-dLLM llada/generate.py, Dream's _sample in Fast-dLLM's copy) with their
// recorded logits: every model call must see the recorded canvas, every canvas after a step
// must be the next recorded one, and the final canvas must match exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "model/io/safetensors.h"
#include "model/sampler.h"
#include "model/torch_util.h"

namespace qs::model {
namespace {

const std::string kTraceDir = std::string(QS_SHARED_DIR) + "/fixtures/samplers";

std::string StepName(int64_t call) {
  char name[32];
  std::snprintf(name, sizeof(name), "step%03lld", static_cast<long long>(call));
  return name;
}

// First differing position of two [B, L] canvases, for messages.
std::string DescribeDifference(const at::Tensor& want, const at::Tensor& got) {
  if (want.sizes() != got.sizes()) {
    return "shape " + c10::str(got.sizes()) + ", recorded " + c10::str(want.sizes());
  }
  at::Tensor diff = want.ne(got).nonzero();
  if (diff.size(0) == 0) return "no difference";
  const int64_t b = diff[0][0].item<int64_t>(), p = diff[0][1].item<int64_t>();
  return std::to_string(diff.size(0)) + " positions differ; first: row " + std::to_string(b) +
         " position " + std::to_string(p) + " holds " + std::to_string(got[b][p].item<int64_t>()) +
         ", recorded " + std::to_string(want[b][p].item<int64_t>());
}

// Returns the recorded logits, after checking that the sampler asks about the recorded
// canvas.
class TraceLogits : public LogitsSource {
 public:
  TraceLogits(const SafetensorsFile& file, int64_t vocab) : file_(file), vocab_(vocab) {}
  StatusOr<at::Tensor> Logits(const at::Tensor& ids) override {
    const std::string step = StepName(calls_);
    if (file_.Find(step + ".canvas_in") == nullptr) {
      return FailedPrecondition("model call " + std::to_string(calls_) +
                                " is more than the trace records");
    }
    QS_ASSIGN_OR_RETURN(at::Tensor want, ReadTensor(file_, step + ".canvas_in"));
    if (want.sizes() != ids.sizes() || !at::equal(want, ids)) {
      return FailedPrecondition(
          step + ": the model is called on a different canvas: " + DescribeDifference(want, ids));
    }
    ++calls_;
    return ReadTensor(file_, step + ".logits");
  }
  int64_t vocab_size() const override { return vocab_; }
  int64_t calls() const { return calls_; }

 private:
  const SafetensorsFile& file_;
  int64_t vocab_;
  int64_t calls_ = 0;
};

// After every step: the canvas must be the one the next recorded call sees (its first B
// rows; CFG calls carry 2B), or `final` after the last call.
class TraceObserver : public StepObserver {
 public:
  explicit TraceObserver(const SafetensorsFile& file) : file_(file) {}
  void OnStep(const StepEvent& e) override {
    ++events_;
    const std::string step = StepName(e.model_calls);
    const bool last = file_.Find(step + ".canvas_in") == nullptr;
    StatusOr<at::Tensor> want = ReadTensor(file_, last ? "final" : step + ".canvas_in");
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    at::Tensor expected = want->narrow(0, 0, e.batch);
    std::vector<int64_t> got(e.canvas, e.canvas + e.batch * e.length);
    at::Tensor canvas =
        at::tensor(c10::ArrayRef<int64_t>(got), at::kLong).view({e.batch, e.length});
    EXPECT_TRUE(expected.sizes() == canvas.sizes() && at::equal(expected, canvas))
        << "after model call " << e.model_calls << " (step " << e.step
        << "): " << DescribeDifference(expected, canvas);
  }
  int64_t events() const { return events_; }

 private:
  const SafetensorsFile& file_;
  int64_t events_ = 0;
};

struct TraceSetup {
  SamplerConfig config;
  int64_t prompt_length = 0;
};

// The sampler config a trace's `params` describe. Any argument it does not know fails, so
// that a trace is never replayed with a silently different meaning.
StatusOr<TraceSetup> SetupFromParams(const nlohmann::json& j) {
  const std::set<std::string> informative = {"source", "function", "model", "note"};
  std::set<std::string> known;
  auto take = [&](const char* key) -> const nlohmann::json& {
    known.insert(key);
    return j.at(key);
  };
  auto has = [&](const char* key) { return j.contains(key) && !j.at(key).is_null(); };
  TraceSetup s;
  SamplerConfig& c = s.config;
  const std::string source = j.at("source").get<std::string>();
  const std::string function = j.at("function").get<std::string>();
  s.prompt_length = take("prompt_len").get<int64_t>();
  c.mask_id = take("mask_id").get<int64_t>();
  c.temperature = take("temperature").get<double>();
  c.steps = take("steps").get<int64_t>();
  c.eos_id = -1;  // the traces run every scheduled step
  c.early_stop = false;
  const bool llada = source.rfind("ML-GSAI/LLaDA generate.py", 0) == 0;
  const bool fast = source.rfind("NVlabs/Fast-dLLM llada/generate.py", 0) == 0;
  if ((llada || fast) && function == "generate") {
    c.gen_length = take("gen_length").get<int64_t>();
    c.block_length = take("block_length").get<int64_t>();
    QS_ASSIGN_OR_RETURN(c.remasking, ParseRemasking(take("remasking").get<std::string>()));
    if (llada) {
      c.kind = SamplerKind::kLlada;
      c.cfg_scale = take("cfg_scale").get<double>();
    } else {
      c.kind = has("threshold") ? SamplerKind::kFastDllmThreshold : SamplerKind::kLlada;
      if (has("threshold")) c.threshold = take("threshold").get<double>();
      known.insert("threshold");
    }
  } else if (function == "DreamGenerationMixin._sample") {
    c.kind = SamplerKind::kDream;
    c.shift_logits = true;
    c.gen_length = take("max_length").get<int64_t>() - s.prompt_length;
    c.eps = take("eps").get<double>();
    QS_ASSIGN_OR_RETURN(c.alg, ParseDreamAlg(take("alg").get<std::string>()));
    c.alg_temp = has("alg_temp") ? take("alg_temp").get<double>() : 0.0;
    known.insert("alg_temp");
    if (has("threshold")) c.threshold = take("threshold").get<double>();
    known.insert("threshold");
  } else {
    return Unsupported("no sampler maps to function " + function + " of " + source);
  }
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key) && !informative.count(key)) {
      return Unsupported("the trace sets argument \"" + key + "\", which the test does not map");
    }
  }
  return s;
}

std::vector<std::string> TraceFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kTraceDir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string ext = ".safetensors";
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      names.push_back(name.substr(0, name.size() - ext.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SamplerTraces, AllTenTracesArePresent) {
  EXPECT_EQ(TraceFiles().size(), 10u) << "in " << kTraceDir;
}

class SamplerTraceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SamplerTraceTest, ReplaysEveryStepExactly) {
  const std::string path = kTraceDir + "/" + GetParam() + ".safetensors";
  StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const SafetensorsFile& f = **file;
  auto params = f.metadata().find("params");
  ASSERT_NE(params, f.metadata().end()) << path << ": no params in the metadata";
  const nlohmann::json j = nlohmann::json::parse(params->second);
  StatusOr<TraceSetup> setup = SetupFromParams(j);
  ASSERT_TRUE(setup.ok()) << path << ": " << setup.status().ToString();

  StatusOr<at::Tensor> final_canvas = ReadTensor(f, "final");
  StatusOr<at::Tensor> first = ReadTensor(f, "step000.canvas_in");
  StatusOr<at::Tensor> first_logits = ReadTensor(f, "step000.logits");
  ASSERT_TRUE(final_canvas.ok() && first.ok() && first_logits.ok());
  const int64_t batch = final_canvas->size(0);
  at::Tensor prompt = first->narrow(0, 0, batch).narrow(1, 0, setup->prompt_length).clone();
  int64_t recorded_calls = 0;
  while (f.Find(StepName(recorded_calls) + ".canvas_in") != nullptr) ++recorded_calls;

  TraceLogits source(f, first_logits->size(2));
  TraceObserver observer(f);
  StatusOr<SamplerResult> result = RunSampler(prompt, setup->config, source, nullptr, &observer);
  ASSERT_TRUE(result.ok()) << result.status().ToString() << "\nparams: " << params->second;
  EXPECT_EQ(source.calls(), recorded_calls);
  EXPECT_EQ(result->model_calls, recorded_calls);
  EXPECT_EQ(observer.events(), recorded_calls);
  EXPECT_TRUE(at::equal(result->canvas, *final_canvas))
      << "final canvas: " << DescribeDifference(*final_canvas, result->canvas);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SamplerTraceTest, ::testing::ValuesIn(TraceFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace qs::model
