#include "model/bench.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "base/files.h"
#include "kernels/kernels.h"
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
  std::vector<int32_t> first_answer;
  std::vector<std::pair<KvCache, bool>> modes;
  for (KvCache cache : o.kv_caches) {
    modes.emplace_back(cache, false);
    if (o.compare_full_lm_head) modes.emplace_back(cache, true);
  }
  for (auto [cache, full_lm_head] : modes) {
    options.kv_cache = cache;
    options.full_lm_head = full_lm_head;
    std::vector<double> runs;
    std::vector<int32_t> answer;
    for (int k = 0; k < o.repeats; ++k) {
      QS_ASSIGN_OR_RETURN(GenerateResult g, lm->Generate(prompt, options));
      runs.push_back(g.seconds);
      r.steps = g.steps;
      r.model_calls = g.model_calls;
      answer = g.ids;
    }
    const double run = Median(runs);
    DenoiseBenchResult::CacheRun c;
    c.cache = cache;
    c.full_lm_head = full_lm_head;
    c.step_ms = r.steps > 0 ? run * 1000.0 / static_cast<double>(r.steps) : 0;
    c.tokens_per_second = static_cast<double>(o.gen_length) / run;
    if (r.cache_runs.empty()) {
      first_answer = answer;
      r.step_ms = c.step_ms;
      r.tokens_per_second = c.tokens_per_second;
    } else {
      size_t same = 0;
      for (size_t i = 0; i < answer.size() && i < first_answer.size(); ++i) {
        same += answer[i] == first_answer[i];
      }
      const size_t n = std::max(answer.size(), first_answer.size());
      c.agreement = n == 0 ? 1.0 : static_cast<double>(same) / static_cast<double>(n);
    }
    r.cache_runs.push_back(c);
  }
  return r;
}

ModelConfig LladaEightBShape() {
  ModelConfig c;
  c.arch = Architecture::kLlada;
  c.model_type = "llada";
  c.hidden_size = 4096;
  c.num_layers = 32;
  c.num_heads = 32;
  c.num_kv_heads = 32;
  c.head_dim = 128;
  c.intermediate_size = 12288;
  c.vocab_size = 126464;
  c.max_position_embeddings = 4096;
  c.rope_theta = 500000;
  c.rms_norm_eps = 1e-5;
  c.mask_token_id = 126336;
  c.eos_token_id = 126081;
  return c;
}

namespace {
// Device memory in use now, or -1 when unknown (a build without CUDA kernels).
int64_t DeviceBytesInUse() {
#ifdef QS_HAVE_CUDA
  StatusOr<int64_t> bytes = kernels::CudaMemoryInUse();
  return bytes.ok() ? *bytes : -1;
#else
  return -1;
#endif
}
}  // namespace

StatusOr<GpuBenchResult> BenchGpu(const GpuBenchOptions& o) {
  if (o.repeats < 1) return InvalidArgument("repeats must be positive");
  QS_ASSIGN_OR_RETURN(std::unique_ptr<DiffusionLm> lm,
                      DiffusionLm::RandomOn(o.config, 1, o.device, o.dtype));
  GpuBenchResult r;
  r.peak_device_bytes = DeviceBytesInUse();
  const int64_t vocab = o.config.vocab_size;
  try {
    const Transformer& model = lm->transformer();
    auto time_forward = [&](int64_t length) {
      at::Tensor ids = at::randint(0, vocab - 1024, {1, length}, at::kLong);
      std::vector<double> ms;
      for (int k = 0; k <= o.repeats; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        // Reading one value back waits for the device to finish.
        model.Forward(ids).logits.sum().item<float>();
        const double elapsed =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        if (k > 0) ms.push_back(elapsed);  // the first is a warm-up
      }
      r.peak_device_bytes = std::max(r.peak_device_bytes, DeviceBytesInUse());
      return Median(ms);
    };
    r.forward_ms_320 = time_forward(320);
    r.forward_ms_1088 = time_forward(1088);
  } catch (const c10::Error& e) {
    return Internal(std::string("forward failed: ") + e.what_without_backtrace());
  }
  std::vector<int32_t> prompt;
  for (int64_t i = 0; i < 64; ++i) {
    prompt.push_back(static_cast<int32_t>((i * 7919 + 13) % (vocab - 1024)));
  }
  GenerateOptions options = lm->DefaultOptions();
  options.sampler.kind = SamplerKind::kLlada;
  options.sampler.gen_length = 256;
  options.sampler.block_length = 32;
  options.sampler.early_stop = false;  // a fixed schedule: every step runs
  for (KvCache cache : o.kv_caches) {
    options.kv_cache = cache;
    for (int64_t steps : {256, 64}) {
      options.sampler.steps = steps;
      std::vector<double> runs;
      for (int k = 0; k <= o.repeats; ++k) {
        QS_ASSIGN_OR_RETURN(GenerateResult g, lm->Generate(prompt, options));
        if (k > 0) runs.push_back(g.seconds);  // the first is a warm-up
      }
      GpuBenchResult::Schedule s;
      s.cache = cache;
      s.steps = steps;
      s.seconds = Median(runs);
      s.step_ms = s.seconds * 1000.0 / static_cast<double>(steps);
      s.tokens_per_second = 256.0 / s.seconds;
      r.schedules.push_back(s);
      r.peak_device_bytes = std::max(r.peak_device_bytes, DeviceBytesInUse());
    }
  }
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
