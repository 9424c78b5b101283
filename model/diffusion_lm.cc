#include "model/diffusion_lm.h"

#include <chrono>

#include "model/sampler.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {

struct DiffusionLm::Impl {
  std::unique_ptr<Transformer> model;
};

DiffusionLm::DiffusionLm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DiffusionLm::~DiffusionLm() = default;

StatusOr<std::unique_ptr<DiffusionLm>> DiffusionLm::Load(const std::string& dir,
                                                         const std::string& dtype,
                                                         const std::string& device) {
  try {
    LoadOptions load;
    QS_ASSIGN_OR_RETURN(load.compute_dtype, ParseComputeDtype(dtype));
    QS_ASSIGN_OR_RETURN(load.device, ParseDevice(device));
    auto impl = std::make_unique<Impl>();
    QS_ASSIGN_OR_RETURN(impl->model, Transformer::Load(dir, load));
    return std::unique_ptr<DiffusionLm>(new DiffusionLm(std::move(impl)));
  } catch (const c10::Error& e) {
    return Internal(dir + ": LibTorch failed while loading the model: " +
                    std::string(e.what_without_backtrace()));
  }
}

std::unique_ptr<DiffusionLm> DiffusionLm::Random(const ModelConfig& config, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->model = Transformer::Random(config, seed, {});
  return std::unique_ptr<DiffusionLm>(new DiffusionLm(std::move(impl)));
}

StatusOr<std::unique_ptr<DiffusionLm>> DiffusionLm::RandomOn(const ModelConfig& config,
                                                             uint64_t seed,
                                                             const std::string& device,
                                                             const std::string& dtype) {
  try {
    LoadOptions load;
    QS_ASSIGN_OR_RETURN(load.compute_dtype, ParseComputeDtype(dtype));
    QS_ASSIGN_OR_RETURN(load.device, ParseDevice(device));
    auto impl = std::make_unique<Impl>();
    impl->model = Transformer::Random(config, seed, load);
    return std::unique_ptr<DiffusionLm>(new DiffusionLm(std::move(impl)));
  } catch (const c10::Error& e) {
    return Internal("LibTorch failed while making a random model on " + device + ": " +
                    std::string(e.what_without_backtrace()));
  }
}

const ModelConfig& DiffusionLm::config() const { return impl_->model->config(); }
const Transformer& DiffusionLm::transformer() const { return *impl_->model; }

GenerateOptions DiffusionLm::DefaultOptions() const {
  GenerateOptions options;
  SamplerConfig& s = options.sampler;
  if (config().arch == Architecture::kDream) s.kind = SamplerKind::kDream;
  s.mask_id = config().mask_token_id;
  s.eos_id = config().eos_token_id;
  s.shift_logits = config().shift_logits;
  return options;
}

StatusOr<std::vector<float>> DiffusionLm::PredictAt(const std::vector<int32_t>& prompt,
                                                    std::vector<int32_t> canvas,
                                                    int64_t position) const {
  const ModelConfig& mc = config();
  if (position < 0 || position >= static_cast<int64_t>(canvas.size())) {
    return InvalidArgument("PredictAt: position " + std::to_string(position) +
                           " is outside the canvas of " + std::to_string(canvas.size()));
  }
  canvas[static_cast<size_t>(position)] = static_cast<int32_t>(mc.mask_token_id);
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  ids.insert(ids.end(), canvas.begin(), canvas.end());
  for (int64_t id : ids) {
    if (id < 0 || id >= mc.vocab_size) {
      return InvalidArgument("PredictAt: token " + std::to_string(id) +
                             " is outside the model's vocabulary of " +
                             std::to_string(mc.vocab_size));
    }
  }
  // Dream predicts position i from the row before it (shifted logits).
  const int64_t row = static_cast<int64_t>(prompt.size()) + position - (mc.shift_logits ? 1 : 0);
  if (row < 0) return InvalidArgument("PredictAt: a shifted-logits model needs a prompt");
  try {
    at::Tensor input = at::tensor(c10::ArrayRef<int64_t>(ids), at::TensorOptions().dtype(at::kLong))
                           .view({1, static_cast<int64_t>(ids.size())});
    TransformerLogits source(*impl_->model);
    QS_ASSIGN_OR_RETURN(at::Tensor logits, source.LogitsAt(input, {row}));
    at::Tensor v = logits.reshape({-1}).to(at::kFloat).to(at::kCPU).contiguous();
    return std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
  } catch (const c10::Error& e) {
    return Internal("LibTorch failed while predicting: " + std::string(e.what_without_backtrace()));
  }
}

StatusOr<GenerateResult> DiffusionLm::Generate(const std::vector<int32_t>& prompt,
                                               const GenerateOptions& options,
                                               Constraint* constraint,
                                               StepObserver* observer) const {
  const ModelConfig& mc = config();
  SamplerConfig sc = options.sampler;
  if (sc.mask_id < 0) sc.mask_id = mc.mask_token_id;
  if (sc.eos_id < 0) sc.eos_id = mc.eos_token_id;
  sc.shift_logits = mc.shift_logits;
  QS_RETURN_IF_ERROR(ValidateSamplerConfig(sc, static_cast<int64_t>(prompt.size()), mc.vocab_size));
  for (int32_t id : prompt) {
    if (id < 0 || id >= mc.vocab_size) {
      return InvalidArgument(
          "prompt token " + std::to_string(id) + " is outside the model's vocabulary of " +
          std::to_string(mc.vocab_size) + ": was the prompt encoded with this model's tokenizer?");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  GenerateResult result;
  try {
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    at::Tensor p = at::tensor(c10::ArrayRef<int64_t>(ids), at::TensorOptions().dtype(at::kLong))
                       .view({1, static_cast<int64_t>(ids.size())});
    TransformerLogits plain(*impl_->model, options.full_lm_head);
    CachedTransformerLogits cached(*impl_->model, options.kv_cache, options.full_lm_head);
    LogitsSource& source = options.kv_cache == KvCache::kNone ? static_cast<LogitsSource&>(plain)
                                                              : static_cast<LogitsSource&>(cached);
    QS_ASSIGN_OR_RETURN(SamplerResult run, RunSampler(p, sc, source, constraint, observer));
    Answer answer = ExtractAnswer(run.canvas, 0, static_cast<int64_t>(prompt.size()), sc.eos_id);
    result.ids = std::move(answer.ids);
    result.ended_with_eos = answer.ended_with_eos;
    result.steps = run.steps;
    result.model_calls = run.model_calls;
    result.stopped_early = run.stopped_early;
  } catch (const c10::Error& e) {
    return Internal("LibTorch failed while generating: " + std::string(e.what_without_backtrace()));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace qs::model
