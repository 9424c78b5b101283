#include "model/bench.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "base/files.h"
#include "model/diffusion_lm.h"
#include "model/io/safetensors.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {

int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

StatusOr<LoadBenchResult> BenchLoad(const std::string& dir, const std::string& dtype) {
  QS_ASSIGN_OR_RETURN(at::ScalarType compute, ParseComputeDtype(dtype));
  LoadOptions options;
  options.compute_dtype = compute;
  LoadBenchResult r;
  {
    QS_ASSIGN_OR_RETURN(CheckpointFiles files, CheckpointFiles::Open(dir));
    r.checkpoint_bytes = files.total_bytes();
  }
  const auto start = std::chrono::steady_clock::now();
  QS_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, Transformer::Load(dir, options));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.weight_bytes_in_memory = model->weight_bytes();
  r.parameters = model->config().num_parameters();
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

namespace {
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
}  // namespace

StatusOr<DenoiseBenchResult> BenchDenoise(const DenoiseBenchOptions& o) {
  if (o.repeats < 1 || o.prompt_length < 1 || o.gen_length < 1) {
    return InvalidArgument("repeats, prompt length and gen length must be positive");
  }
  QS_ASSIGN_OR_RETURN(at::ScalarType compute, ParseComputeDtype(o.dtype));
  LoadOptions load;
  load.compute_dtype = compute;
  std::unique_ptr<Transformer> transformer;
  std::unique_ptr<DiffusionLm> lm;
  if (!o.model_dir.empty()) {
    QS_ASSIGN_OR_RETURN(transformer, Transformer::Load(o.model_dir, load));
    QS_ASSIGN_OR_RETURN(lm, DiffusionLm::Load(o.model_dir, o.dtype));
  } else {
    if (compute != at::kFloat) return Unsupported("random benchmark models are float32 only");
    transformer = Transformer::Random(o.random_config, 1, load);
    lm = DiffusionLm::Random(o.random_config, 1);
  }
  DenoiseBenchResult r;
  r.config = lm->config();
  const int64_t vocab = r.config.vocab_size;
  // A fixed prompt of ordinary token ids (not the mask or EOS ids).
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < o.prompt_length; ++i)
    prompt.push_back(static_cast<int32_t>((i * 7919 + 13) % (vocab - 8)));

  try {
    at::Tensor ids = at::randint(0, vocab - 8, {1, o.prompt_length + o.gen_length}, at::kLong);
    std::vector<double> forward;
    transformer->Forward(ids);  // warm-up
    for (int k = 0; k < o.repeats; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      transformer->Forward(ids);
      forward.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    r.forward_ms = Median(forward);
  } catch (const c10::Error& e) {
    return Internal(std::string("forward failed: ") + e.what_without_backtrace());
  }
  transformer.reset();

  GenerateOptions options = lm->DefaultOptions();
  if (!o.sampler.empty()) {
    QS_ASSIGN_OR_RETURN(options.sampler.kind, ParseSamplerKind(o.sampler));
  }
  r.sampler = SamplerKindName(options.sampler.kind);
  options.sampler.gen_length = o.gen_length;
  options.sampler.steps = o.steps;
  options.sampler.block_length = options.sampler.kind == SamplerKind::kDream ? 0 : o.block_length;
  options.sampler.early_stop = false;  // a fixed schedule: every step runs
  std::vector<double> runs;
  for (int k = 0; k < o.repeats; ++k) {
    QS_ASSIGN_OR_RETURN(GenerateResult g, lm->Generate(prompt, options));
    runs.push_back(g.seconds);
    r.steps = g.steps;
    r.model_calls = g.model_calls;
  }
  const double run = Median(runs);
  r.step_ms = r.steps > 0 ? run * 1000.0 / static_cast<double>(r.steps) : 0;
  r.tokens_per_second = static_cast<double>(o.gen_length) / run;
  return r;
}

Status WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                             const std::string& dtype) {
  QS_ASSIGN_OR_RETURN(at::ScalarType stored, ParseComputeDtype(dtype));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return InvalidArgument("cannot create " + dir + ": " + std::strerror(errno));
  }
  LoadOptions options;
  options.compute_dtype = stored;
  std::unique_ptr<Transformer> model = Transformer::Random(config, seed, options);
  QS_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", ModelConfigToJson(config)));
  return model->Save(dir);
}

}  // namespace qs::model
