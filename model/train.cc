// Masked-diffusion training in LibTorch (see train.h).
//
// The objective follows LLaDA's supervised fine-tuning (Nie et al. 2025, "Large Language
// Diffusion Models", arXiv:2502.09992, section 2.3 and Algorithm 2): the prompt is kept,
// a masking ratio is drawn per sequence and response tokens (EOS padding included) are
// masked at that ratio (train.h: exactly k of n with k uniform in 1..n, or LLaDA's
// independent masking with probability p = (1 - eps) t + eps), the model predicts all
// masked tokens at once, and the cross-entropy of each is weighted by 1/t and normalised
// by the response length, an upper bound on the negative log-likelihood of the response.
// The code is our own.
#include "model/train.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <nlohmann/json.hpp>
#include <numeric>
#include <system_error>

#include "base/files.h"
#include "model/backend.h"
#include "model/io/model_config.h"
#include "model/tokenizer/tokenizer.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr double kMaskEps = 1e-3;       // lower bound of the masking probability
constexpr double kMinLrRatio = 0.1;     // cosine decay ends at 10% of the peak
constexpr double kClipNorm = 1.0;       // global gradient norm
constexpr int64_t kBucketBatches = 50;  // length bucketing: batches per sorted chunk
constexpr int kStateFormat = 1;

// ---------------------------------------------------------------------------------------
// Deterministic randomness: every random choice is a function of (seed, purpose, index), so
// a resumed run needs no saved generator state and repeats an uninterrupted one exactly.

enum Stream : uint64_t {
  kInitStream = 1,
  kSplitStream,
  kEpochStream,
  kMaskStream,
  kEvalStream,
  kTailStream,
};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t DeriveSeed(int64_t seed, Stream stream, int64_t index) {
  return SplitMix64(SplitMix64(SplitMix64(static_cast<uint64_t>(seed)) ^ stream) ^
                    static_cast<uint64_t>(index));
}

// Fisher-Yates with SplitMix64 (portable: no implementation-defined distributions).
template <typename T>
void Shuffle(std::vector<T>& v, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = v.size(); i > 1; --i) {
    state = SplitMix64(state);
    std::swap(v[i - 1], v[state % i]);
  }
}

// ---------------------------------------------------------------------------------------
// The corpus.

struct Example {
  std::vector<int32_t> ids;  // prompt + response + EOS
  int64_t prompt_len = 0;
};

struct Corpus {
  std::vector<Example> train, eval;
  int64_t lines = 0;
  int64_t dropped = 0;
  uint64_t fingerprint = 0;  // FNV-1a of the file's bytes: a resumed run checks it
};

uint64_t Fnv1a(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string Hex(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

StatusOr<Corpus> ReadCorpus(const std::string& path, const Tokenizer& tokenizer, int32_t eos,
                            const TrainOptions& o) {
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  Corpus corpus;
  corpus.fingerprint = Fnv1a(text);
  std::vector<Example> all;
  size_t begin = 0;
  int64_t line_no = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    Json j;
    try {
      j = Json::parse(line);
    } catch (const Json::exception& e) {
      return InvalidArgument(where + "not valid JSON (" + e.what() +
                             "); each line must be {\"prompt\": TEXT, \"response\": TEXT}");
    }
    if (!j.is_object()) {
      return InvalidArgument(where + "expected a JSON object {\"prompt\": TEXT, \"response\": " +
                             "TEXT}, got " + j.type_name());
    }
    for (const char* key : {"prompt", "response"}) {
      if (!j.contains(key)) return InvalidArgument(where + "missing \"" + key + "\"");
      if (!j[key].is_string()) {
        return InvalidArgument(where + "\"" + key + "\" must be a string, got " +
                               j[key].type_name());
      }
    }
    ++corpus.lines;
    Example ex;
    ex.ids = tokenizer.Encode(j["prompt"].get<std::string>());
    ex.prompt_len = static_cast<int64_t>(ex.ids.size());
    const std::vector<int32_t> response = tokenizer.Encode(j["response"].get<std::string>());
    ex.ids.insert(ex.ids.end(), response.begin(), response.end());
    ex.ids.push_back(eos);
    if (static_cast<int64_t>(ex.ids.size()) > o.max_len) {
      ++corpus.dropped;
      continue;
    }
    all.push_back(std::move(ex));
  }
  if (all.empty()) {
    return InvalidArgument(path + ": no examples of at most --max-len " +
                           std::to_string(o.max_len) + " tokens (" + std::to_string(corpus.lines) +
                           " lines, " + std::to_string(corpus.dropped) + " too long)");
  }
  // Held-out examples: a seeded random subset; the rest keeps the file order.
  const int64_t n = static_cast<int64_t>(all.size());
  int64_t n_eval = static_cast<int64_t>(std::floor(o.eval_fraction * static_cast<double>(n)));
  n_eval = std::min(n_eval, n - 1);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Shuffle(order, DeriveSeed(o.seed, kSplitStream, 0));
  std::vector<bool> is_eval(static_cast<size_t>(n), false);
  for (int64_t i = 0; i < n_eval; ++i) is_eval[static_cast<size_t>(order[i])] = true;
  for (int64_t i = 0; i < n; ++i) {
    (is_eval[static_cast<size_t>(i)] ? corpus.eval : corpus.train)
        .push_back(std::move(all[static_cast<size_t>(i)]));
  }
  return corpus;
}

// ---------------------------------------------------------------------------------------
// Batches: each epoch is a seeded permutation, cut into chunks of kBucketBatches batches;
// each chunk is sorted by length (little padding) and cut into batches, and the batches of
// the epoch are shuffled. Batch k of the run is batch k % n of epoch k / n.

class BatchPlan {
 public:
  BatchPlan(const std::vector<Example>& examples, int64_t batch, int64_t seed)
      : examples_(examples), batch_(batch), seed_(seed) {}

  int64_t batches_per_epoch() const {
    return (static_cast<int64_t>(examples_.size()) + batch_ - 1) / batch_;
  }

  const std::vector<int64_t>& Batch(int64_t k) {
    const int64_t epoch = k / batches_per_epoch();
    if (epoch != epoch_) Build(epoch);
    return batches_[static_cast<size_t>(k % batches_per_epoch())];
  }

 private:
  void Build(int64_t epoch) {
    epoch_ = epoch;
    std::vector<int64_t> order(examples_.size());
    std::iota(order.begin(), order.end(), 0);
    Shuffle(order, DeriveSeed(seed_, kEpochStream, epoch));
    batches_.clear();
    const size_t chunk = static_cast<size_t>(batch_ * kBucketBatches);
    for (size_t c = 0; c < order.size(); c += chunk) {
      auto first = order.begin() + static_cast<std::ptrdiff_t>(c);
      auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), c + chunk));
      std::stable_sort(first, last, [&](int64_t a, int64_t b) {
        return examples_[static_cast<size_t>(a)].ids.size() <
               examples_[static_cast<size_t>(b)].ids.size();
      });
      for (auto it = first; it < last; it += std::min<std::ptrdiff_t>(batch_, last - it)) {
        batches_.emplace_back(it, it + std::min<std::ptrdiff_t>(batch_, last - it));
      }
    }
    Shuffle(batches_, DeriveSeed(seed_, kEpochStream, epoch) ^ 0x5bd1e995ULL);
  }

  const std::vector<Example>& examples_;
  int64_t batch_;
  int64_t seed_;
  int64_t epoch_ = -1;
  std::vector<std::vector<int64_t>> batches_;
};

struct BatchTensors {
  at::Tensor ids;       // [B, L] int64, EOS padded
  at::Tensor response;  // [B, L] bool: response positions (EOS and padding included)
  int64_t response_tokens = 0;
};

// The batch of `rows`, EOS-padded to the longest row plus `tail` (at most max_len).
BatchTensors MakeBatch(const std::vector<Example>& examples, const std::vector<int64_t>& rows,
                       int32_t eos, int64_t tail, int64_t max_len) {
  int64_t len = 0;
  for (int64_t r : rows) {
    len = std::max<int64_t>(len, static_cast<int64_t>(examples[static_cast<size_t>(r)].ids.size()));
  }
  len = std::max(len, std::min(max_len, len + tail));
  const int64_t b = static_cast<int64_t>(rows.size());
  BatchTensors out;
  out.ids = at::full({b, len}, eos, at::TensorOptions().dtype(at::kLong));
  std::vector<int64_t> prompt_len;
  auto acc = out.ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < b; ++i) {
    const Example& ex = examples[static_cast<size_t>(rows[static_cast<size_t>(i)])];
    for (size_t j = 0; j < ex.ids.size(); ++j) acc[i][static_cast<int64_t>(j)] = ex.ids[j];
    prompt_len.push_back(ex.prompt_len);
    out.response_tokens += len - ex.prompt_len;
  }
  at::Tensor pl = at::tensor(prompt_len, at::TensorOptions().dtype(at::kLong)).view({b, 1});
  out.response = at::arange(len, at::TensorOptions().dtype(at::kLong)).view({1, len}) >= pl;
  return out;
}

enum class MaskSampling { kCount, kBernoulli, kSuffix, kMixed };

MaskSampling ParseMaskSampling(const std::string& name) {  // validated by ValidateOptions
  if (name == "bernoulli") return MaskSampling::kBernoulli;
  if (name == "suffix") return MaskSampling::kSuffix;
  if (name == "mixed") return MaskSampling::kMixed;
  return MaskSampling::kCount;
}

// LLaDA's SFT loss of one batch before normalisation: the sum over masked response
// positions of CE / p (the caller divides by the batch's response tokens; eval pools the
// sums of all its batches first). The masks come from a generator seeded with `seed`.
at::Tensor MaskedLossSum(const Transformer& model, const BatchTensors& batch, int64_t mask_id,
                         MaskSampling sampling, uint64_t seed) {
  const int64_t b = batch.ids.size(0), l = batch.ids.size(1);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  at::Tensor t = at::rand({b}, gen, at::TensorOptions().dtype(at::kFloat));
  at::Tensor u = at::rand({b, l}, gen, at::TensorOptions().dtype(at::kFloat));
  at::Tensor p, masked;
  if (sampling != MaskSampling::kBernoulli) {
    // k = 1 + floor(t n) in 1..n masked positions.
    at::Tensor n = batch.response.sum(1);  // [B] int64
    at::Tensor k = at::clamp_max((t * n.to(at::kFloat)).floor().to(at::kLong) + 1, n);
    // count: the k response positions with the lowest u.
    auto random_k = [&] {
      at::Tensor scores = u.masked_fill(batch.response.logical_not(), 2.0f);
      at::Tensor rank = scores.argsort(/*dim=*/int64_t{1})
                            .argsort(/*dim=*/int64_t{1});  // rank of each position in its row
      return (rank < k.view({b, 1})) & batch.response;
    };
    // suffix: the last k positions (the response runs to the row's end), the canvas the
    // constrained sampler denoises: everything left of its frontier committed, all after it
    // masked (block diffusion's clean-prefix conditioning, Arriola et al. 2025, with
    // blocks of one token; the decoding order of the schema constraint).
    auto last_k = [&] {
      at::Tensor position = at::arange(l, at::TensorOptions().dtype(at::kLong)).view({1, l});
      return (position >= (l - k).view({b, 1})) & batch.response;
    };
    if (sampling == MaskSampling::kCount) {
      masked = random_k();
    } else if (sampling == MaskSampling::kSuffix) {
      masked = last_k();
    } else {  // mixed: each row one or the other, evenly
      at::Tensor suffix_row = at::rand({b}, gen, at::TensorOptions().dtype(at::kFloat)) < 0.5f;
      masked = at::where(suffix_row.view({b, 1}), last_k(), random_k());
    }
    p = k.to(at::kFloat) / n.to(at::kFloat);
  } else {
    p = (1.0 - kMaskEps) * t + kMaskEps;  // [B]
    masked = (u < p.view({b, 1})) & batch.response;
  }
  at::Tensor noisy = batch.ids.masked_fill(masked, mask_id);

  ForwardOptions fo;
  fo.want_hidden = true;
  fo.want_logits = false;  // the LM head runs on masked positions only
  ForwardOutput out = model.Forward(noisy, fo);
  const at::Tensor& h = out.hidden.back();  // [B, L, H] after the final norm
  at::Tensor index = masked.reshape({-1}).nonzero().reshape({-1});
  at::Tensor logits = model.LmHead(h.reshape({b * l, h.size(2)}).index_select(0, index));
  at::Tensor target = batch.ids.reshape({-1}).index_select(0, index);
  at::Tensor weight = p.view({b, 1}).expand({b, l}).reshape({-1}).index_select(0, index);
  at::Tensor ce = at::cross_entropy_loss(logits.to(at::kFloat), target, {}, at::Reduction::None);
  return (ce / weight).sum();
}

// Scales all gradients so that their global L2 norm is at most max_norm (what
// torch.nn.utils.clip_grad_norm_ does); returns the norm before clipping.
double ClipGradNorm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : params) {
    if (p.grad().defined()) norms.push_back(p.grad().norm());
  }
  if (norms.empty()) return 0;
  const double total = at::stack(norms).norm().item<double>();
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (const at::Tensor& p : params) {
      if (p.grad().defined()) p.grad().mul_(coef);
    }
  }
  return total;
}

double LearningRate(const TrainOptions& o, int64_t step) {
  if (o.warmup > 0 && step <= o.warmup) {
    return o.lr * static_cast<double>(step) / static_cast<double>(o.warmup);
  }
  const double span = static_cast<double>(std::max<int64_t>(1, o.steps - o.warmup));
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / span);
  return o.lr * (kMinLrRatio + (1.0 - kMinLrRatio) * 0.5 * (1.0 + std::cos(M_PI * progress)));
}

std::string Duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  }
  return buf;
}

// ---------------------------------------------------------------------------------------
// Options: the ones that determine the trajectory are recorded in train_state/state.json.

Json TrajectoryJson(const TrainOptions& o) {
  return Json{{"steps", o.steps},
              {"batch", o.batch},
              {"lr", o.lr},
              {"warmup", o.warmup},
              {"seed", o.seed},
              {"max_len", o.max_len},
              {"hidden", o.hidden},
              {"layers", o.layers},
              {"heads", o.heads},
              {"ffn", o.ffn},
              {"weight_decay", o.weight_decay},
              {"eval_fraction", o.eval_fraction},
              {"tail_pad", o.tail_pad},
              {"mask_sampling", o.mask_sampling}};
}

// Fills o's trajectory options from a recording; a value set in o that is neither the
// default nor the recorded one is an error (the resumed run would not be the same run).
Status MergeRecorded(const Json& rec, TrainOptions& o) {
  const TrainOptions d;
  Status status;
  auto merge_int = [&](const char* key, const char* flag, int64_t dflt, int64_t* value) {
    if (!status.ok()) return;
    if (!rec.contains(key) || !rec[key].is_number_integer()) {
      status = InvalidArgument(std::string("state.json: missing option \"") + key + "\"");
      return;
    }
    const int64_t saved = rec[key].get<int64_t>();
    if (*value != dflt && *value != saved) {
      status = InvalidArgument(std::string("--") + flag + " " + std::to_string(*value) +
                               " differs from the run being resumed (" + std::to_string(saved) +
                               "); a resumed run keeps the options it started with");
      return;
    }
    *value = saved;
  };
  auto merge_double = [&](const char* key, const char* flag, double dflt, double* value) {
    if (!status.ok()) return;
    if (!rec.contains(key) || !rec[key].is_number()) {
      status = InvalidArgument(std::string("state.json: missing option \"") + key + "\"");
      return;
    }
    const double saved = rec[key].get<double>();
    if (*value != dflt && *value != saved) {
      status = InvalidArgument(std::string("--") + flag + " " + Json(*value).dump() +
                               " differs from the run being resumed (" + Json(saved).dump() +
                               "); a resumed run keeps the options it started with");
      return;
    }
    *value = saved;
  };
  merge_int("steps", "steps", d.steps, &o.steps);
  merge_int("batch", "batch", d.batch, &o.batch);
  merge_double("lr", "lr", d.lr, &o.lr);
  merge_int("warmup", "warmup", d.warmup, &o.warmup);
  merge_int("seed", "seed", d.seed, &o.seed);
  merge_int("max_len", "max-len", d.max_len, &o.max_len);
  merge_int("hidden", "hidden", d.hidden, &o.hidden);
  merge_int("layers", "layers", d.layers, &o.layers);
  merge_int("heads", "heads", d.heads, &o.heads);
  merge_int("ffn", "ffn", d.ffn, &o.ffn);
  merge_double("weight_decay", "weight-decay", d.weight_decay, &o.weight_decay);
  merge_double("eval_fraction", "eval-fraction", d.eval_fraction, &o.eval_fraction);
  merge_int("tail_pad", "tail-pad", d.tail_pad, &o.tail_pad);
  if (status.ok()) {
    // Runs recorded before the option existed drew their masks LLaDA's way.
    const std::string saved = rec.value("mask_sampling", std::string("bernoulli"));
    if (o.mask_sampling != d.mask_sampling && o.mask_sampling != saved) {
      return InvalidArgument("--mask-sampling " + o.mask_sampling +
                             " differs from the run being resumed (" + saved +
                             "); a resumed run keeps the options it started with");
    }
    o.mask_sampling = saved;
  }
  return status;
}

Status ValidateOptions(const TrainOptions& o) {
  auto positive = [](const char* flag, int64_t v) -> Status {
    if (v <= 0) return InvalidArgument(std::string("--") + flag + " must be positive");
    return Status::Ok();
  };
  QS_RETURN_IF_ERROR(positive("steps", o.steps));
  QS_RETURN_IF_ERROR(positive("batch", o.batch));
  QS_RETURN_IF_ERROR(positive("hidden", o.hidden));
  QS_RETURN_IF_ERROR(positive("layers", o.layers));
  QS_RETURN_IF_ERROR(positive("heads", o.heads));
  QS_RETURN_IF_ERROR(positive("ffn", o.ffn));
  if (o.max_len < 2) return InvalidArgument("--max-len must be at least 2");
  if (!(o.lr > 0)) return InvalidArgument("--lr must be positive");
  if (o.warmup < 0) return InvalidArgument("--warmup must not be negative");
  if (o.tail_pad < 0) return InvalidArgument("--tail-pad must not be negative");
  if (o.mask_sampling != "count" && o.mask_sampling != "bernoulli" && o.mask_sampling != "suffix" &&
      o.mask_sampling != "mixed") {
    return InvalidArgument("--mask-sampling must be count, bernoulli, suffix or mixed, not \"" +
                           o.mask_sampling + "\"");
  }
  if (!(o.weight_decay >= 0)) return InvalidArgument("--weight-decay must not be negative");
  if (!(o.eval_fraction >= 0 && o.eval_fraction <= 0.5)) {
    return InvalidArgument("--eval-fraction must be between 0 and 0.5");
  }
  if (o.save_every < 0 || o.log_every < 0 || o.stop_at < 0 || o.threads < 0) {
    return InvalidArgument(
        "--save-every, --log-every, --stop-at and --threads must not be negative");
  }
  if (o.save_dtype != "bfloat16" && o.save_dtype != "float32") {
    return InvalidArgument("--save-dtype must be bfloat16 or float32, not \"" + o.save_dtype +
                           "\"");
  }
  if (!o.agent_prompt.empty() && o.agent_prompt != "full" && o.agent_prompt != "compact") {
    return InvalidArgument("--agent-prompt must be full or compact, not \"" + o.agent_prompt +
                           "\"");
  }
  if (o.out_dir.empty()) return InvalidArgument("--out is required");
  return Status::Ok();
}

// The ChatML template written to tokenizer_config.json (no default system message), so
// ChatFormatForCheckpoint picks ChatML for the trained model.
constexpr const char* kChatTemplate =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";

Status WriteModelFiles(const std::string& out, const std::string& tokenizer_json,
                       const ModelConfig& config, int64_t max_len,
                       const std::string& agent_prompt) {
  QS_RETURN_IF_ERROR(WriteFileAtomically(out + "/config.json", ModelConfigToJson(config)));
  QS_RETURN_IF_ERROR(WriteFileAtomically(out + "/tokenizer.json", tokenizer_json));
  Json tc = {{"chat_template", kChatTemplate}, {"eos_token", "<|endoftext|>"},
             {"pad_token", "<|endoftext|>"},   {"mask_token", "<|mask|>"},
             {"model_max_length", max_len},    {"tokenizer_class", "PreTrainedTokenizerFast"}};
  if (!agent_prompt.empty()) tc["quicksilver_agent_prompt"] = agent_prompt;
  return WriteFileAtomically(out + "/tokenizer_config.json", tc.dump(2) + "\n");
}

// The training run: everything Train needs between steps.
class Trainer {
 public:
  Trainer(TrainOptions o, std::function<void(const std::string&)> log)
      : o_(std::move(o)), log_(std::move(log)) {}

  StatusOr<TrainResult> Run();

 private:
  Status Prepare();
  double EvalLoss();
  Status SaveCheckpoint(int64_t step);
  void Log(const std::string& line) { log_(line); }
  MaskSampling Sampling() const { return ParseMaskSampling(o_.mask_sampling); }
  // The extra padding of batch `index` (uniform in 0..tail_pad).
  int64_t Tail(Stream stream, int64_t index) const {
    if (o_.tail_pad <= 0) return 0;
    return static_cast<int64_t>(DeriveSeed(o_.seed, stream, index ^ 0x7a11) %
                                static_cast<uint64_t>(o_.tail_pad + 1));
  }

  TrainOptions o_;
  std::function<void(const std::string&)> log_;
  std::string state_dir_;
  std::string data_path_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string tokenizer_json_;
  int32_t eos_ = -1, mask_ = -1;
  Corpus corpus_;
  ModelConfig config_;
  std::unique_ptr<Transformer> model_;
  std::vector<at::Tensor> params_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  int64_t start_step_ = 0;  // steps done before this call
};

Status Trainer::Prepare() {
  state_dir_ = o_.out_dir + "/train_state";
  Json recorded;
  if (o_.resume) {
    StatusOr<std::string> text = ReadFile(state_dir_ + "/state.json");
    if (!text.ok()) {
      return NotFound("no training run to resume in " + o_.out_dir + " (" +
                      text.status().message() + "); start one without --resume");
    }
    try {
      recorded = Json::parse(*text);
    } catch (const Json::exception& e) {
      return InvalidArgument(state_dir_ + "/state.json: not valid JSON: " + e.what());
    }
    const bool valid = recorded.is_object() && recorded.contains("format") &&
                       recorded["format"] == kStateFormat && recorded.contains("options") &&
                       recorded.contains("step") && recorded["step"].is_number_integer() &&
                       recorded.contains("data") && recorded["data"].is_string();
    if (!valid) {
      return InvalidArgument(state_dir_ + "/state.json: not a train state of this version");
    }
    QS_RETURN_IF_ERROR(MergeRecorded(recorded["options"], o_).WithContext("--resume"));
    start_step_ = recorded["step"].get<int64_t>();
    if (o_.data_path.empty()) o_.data_path = recorded["data"].get<std::string>();
    if (o_.tokenizer_dir.empty()) o_.tokenizer_dir = o_.out_dir + "/tokenizer.json";
  } else if (fs::exists(state_dir_ + "/state.json")) {
    return FailedPrecondition(o_.out_dir +
                              " already holds a training run (train_state/); pass --resume to "
                              "continue it, or choose another --out");
  }
  QS_RETURN_IF_ERROR(ValidateOptions(o_));
  if (o_.data_path.empty()) return InvalidArgument("--data is required");
  if (o_.tokenizer_dir.empty()) return InvalidArgument("--tokenizer is required");

  // The tokenizer and its special tokens.
  QS_ASSIGN_OR_RETURN(tokenizer_, Tokenizer::Load(o_.tokenizer_dir));
  const std::string tok_path =
      fs::is_directory(o_.tokenizer_dir) ? o_.tokenizer_dir + "/tokenizer.json" : o_.tokenizer_dir;
  QS_ASSIGN_OR_RETURN(tokenizer_json_, ReadFile(tok_path));
  eos_ = tokenizer_->TokenId("<|endoftext|>");
  mask_ = tokenizer_->TokenId("<|mask|>");
  if (eos_ < 0 || mask_ < 0) {
    return InvalidArgument(tok_path + ": the tokenizer has no " +
                           std::string(eos_ < 0 ? "<|endoftext|>" : "<|mask|>") +
                           " token; training needs <|endoftext|> (EOS) and <|mask|> as added "
                           "tokens (e.g. BpeTrainerOptions::special_tokens)");
  }

  // The model's shape, validated by the parser users' configs go through.
  ModelConfig c;
  c.arch = Architecture::kLlada;
  c.model_type = "llada";
  c.hidden_size = o_.hidden;
  c.num_layers = o_.layers;
  c.num_heads = o_.heads;
  c.num_kv_heads = o_.heads;
  c.intermediate_size = o_.ffn;
  c.vocab_size = (static_cast<int64_t>(tokenizer_->vocab_size()) + 63) / 64 * 64;
  c.max_position_embeddings = o_.max_len;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = true;  // Transformer::Load / Save handle a tied LLaDA head
  c.mask_token_id = mask_;
  c.eos_token_id = eos_;
  c.pad_token_id = eos_;
  StatusOr<ModelConfig> checked = ParseModelConfig(ModelConfigToJson(c), "the model shape");
  if (!checked.ok()) return InvalidArgument(checked.status().message());
  config_ = *checked;
  if (o_.resume && recorded.value("vocab_size", int64_t{-1}) != config_.vocab_size) {
    return InvalidArgument("--resume: the tokenizer " + tok_path +
                           " does not match the run being resumed (vocabulary size)");
  }

  // The output folder, before the (possibly long) corpus read.
  std::error_code ec;
  fs::create_directories(o_.out_dir, ec);
  if (ec || !fs::is_directory(o_.out_dir)) {
    return InvalidArgument("cannot create --out " + o_.out_dir + ": " +
                           (ec ? ec.message() : std::string("not a directory")));
  }
  Status written =
      WriteModelFiles(o_.out_dir, tokenizer_json_, config_, o_.max_len, o_.agent_prompt);
  if (!written.ok()) {
    return InvalidArgument("cannot write to --out " + o_.out_dir + ": " + written.message());
  }

  // The corpus.
  std::error_code abs_ec;
  data_path_ = fs::absolute(o_.data_path, abs_ec).lexically_normal().string();
  if (abs_ec) data_path_ = o_.data_path;
  const auto read_start = std::chrono::steady_clock::now();
  QS_ASSIGN_OR_RETURN(corpus_, ReadCorpus(o_.data_path, *tokenizer_, eos_, o_));
  if (o_.resume) {
    const Json& rc = recorded.value("corpus", Json::object());
    if (rc.value("fingerprint", "") != Hex(corpus_.fingerprint)) {
      return InvalidArgument("--resume: " + o_.data_path +
                             " is not the corpus the run started with (its contents changed)");
    }
  }
  int64_t tokens = 0;
  for (const Example& ex : corpus_.train) tokens += static_cast<int64_t>(ex.ids.size());
  char line[256];
  std::snprintf(
      line, sizeof(line),
      "train: corpus %s: %lld lines, %zu train / %zu eval examples, %lld dropped "
      "(> %lld tokens), %.1f tokens per example, read in %.1f s",
      o_.data_path.c_str(), static_cast<long long>(corpus_.lines), corpus_.train.size(),
      corpus_.eval.size(), static_cast<long long>(corpus_.dropped),
      static_cast<long long>(o_.max_len),
      static_cast<double>(tokens) / static_cast<double>(corpus_.train.size()),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count());
  Log(line);

  // The model and the optimizer (AdamW; no weight decay on the norms).
  model_ = Transformer::Random(config_, DeriveSeed(o_.seed, kInitStream, 0), LoadOptions{});
  std::vector<at::Tensor> decay, no_decay;
  for (auto& [name, tensor] : model_->TrainableWeights()) {
    params_.push_back(tensor);
    (tensor.dim() >= 2 ? decay : no_decay).push_back(tensor);
  }
  using torch::optim::AdamWOptions;
  auto group_options = [&](double wd) {
    return std::make_unique<AdamWOptions>(
        AdamWOptions(o_.lr).betas({0.9, 0.95}).eps(1e-8).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, group_options(o_.weight_decay));
  groups.emplace_back(no_decay, group_options(0.0));
  optimizer_ = std::make_unique<torch::optim::AdamW>(groups, AdamWOptions(o_.lr));

  const bool warm_start = !o_.resume && !o_.init_from.empty();
  if (o_.resume || warm_start) {
    const std::string path =
        (warm_start ? o_.init_from + "/train_state" : state_dir_) + "/weights.pt";
    if (!std::filesystem::exists(path)) {
      return NotFound(path + " does not exist (--init-from needs an earlier run's output folder)");
    }
    std::vector<at::Tensor> saved;
    torch::load(saved, path);
    if (saved.size() != params_.size()) {
      return InvalidArgument(path + ": " + std::to_string(saved.size()) +
                             " tensors, the model has " + std::to_string(params_.size()));
    }
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < saved.size(); ++i) {
      if (!saved[i].sizes().equals(params_[i].sizes())) {
        return InvalidArgument(path + ": tensor " + std::to_string(i) +
                               " has the wrong shape (same --hidden/--layers/--ffn/tokenizer?)");
      }
      params_[i].copy_(saved[i]);
    }
    if (o_.resume) torch::load(*optimizer_, state_dir_ + "/optimizer.pt");
  }
  return Status::Ok();
}

double Trainer::EvalLoss() {
  if (corpus_.eval.empty()) return -1;
  at::NoGradGuard no_grad;
  std::vector<int64_t> order(corpus_.eval.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return corpus_.eval[static_cast<size_t>(a)].ids.size() <
           corpus_.eval[static_cast<size_t>(b)].ids.size();
  });
  double sum = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(o_.batch)) {
    std::vector<int64_t> rows(
        order.begin() + static_cast<std::ptrdiff_t>(i),
        order.begin() +
            static_cast<std::ptrdiff_t>(std::min(order.size(), i + static_cast<size_t>(o_.batch))));
    const int64_t k = static_cast<int64_t>(i);
    BatchTensors batch = MakeBatch(corpus_.eval, rows, eos_, Tail(kEvalStream, k), o_.max_len);
    // The same masks at every evaluation, so eval losses compare across steps.
    sum += MaskedLossSum(*model_, batch, mask_, Sampling(), DeriveSeed(o_.seed, kEvalStream, k))
               .item<double>();
    tokens += batch.response_tokens;
  }
  return sum / static_cast<double>(std::max<int64_t>(1, tokens));
}

Status Trainer::SaveCheckpoint(int64_t step) {
  QS_ASSIGN_OR_RETURN(at::ScalarType dtype, ParseComputeDtype(o_.save_dtype));
  QS_RETURN_IF_ERROR(model_->Save(o_.out_dir, dtype));
  // train_state is written beside the old one and swapped in, so a crash while saving
  // leaves the previous state whole.
  const std::string tmp = state_dir_ + ".tmp", old = state_dir_ + ".old";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return InvalidArgument("cannot create " + tmp + ": " + ec.message());
  std::vector<at::Tensor> weights;
  for (const at::Tensor& p : params_) weights.push_back(p.detach());
  torch::save(weights, tmp + "/weights.pt");
  torch::save(*optimizer_, tmp + "/optimizer.pt");
  const int64_t per_epoch = BatchPlan(corpus_.train, o_.batch, o_.seed).batches_per_epoch();
  const Json state = {
      {"format", kStateFormat},
      {"step", step},
      {"epoch", step / per_epoch},
      {"batch_in_epoch", step % per_epoch},
      {"data", data_path_},
      {"vocab_size", config_.vocab_size},
      {"corpus",
       {{"fingerprint", Hex(corpus_.fingerprint)},
        {"train_examples", corpus_.train.size()},
        {"eval_examples", corpus_.eval.size()},
        {"dropped", corpus_.dropped}}},
      {"options", TrajectoryJson(o_)},
      {"random",
       "derived, nothing to restore: masks of step s from a generator seeded with (seed, s), "
       "epoch order from (seed, epoch), initialisation from (seed)"},
      {"save_dtype", o_.save_dtype}};
  QS_RETURN_IF_ERROR(WriteFileAtomically(tmp + "/state.json", state.dump(2) + "\n"));
  fs::remove_all(old, ec);
  if (fs::exists(state_dir_)) fs::rename(state_dir_, old, ec);
  if (ec) return InvalidArgument("cannot rename " + state_dir_ + ": " + ec.message());
  fs::rename(tmp, state_dir_, ec);
  if (ec) return InvalidArgument("cannot rename " + tmp + ": " + ec.message());
  fs::remove_all(old, ec);
  return Status::Ok();
}

StatusOr<TrainResult> Trainer::Run() {
  QS_RETURN_IF_ERROR(Prepare());
  TrainResult result;
  result.train_examples = static_cast<int64_t>(corpus_.train.size());
  result.eval_examples = static_cast<int64_t>(corpus_.eval.size());
  result.dropped_examples = corpus_.dropped;
  result.first_step = start_step_ + 1;
  const int64_t last_step = o_.stop_at > 0 ? std::min(o_.stop_at, o_.steps) : o_.steps;
  {
    char line[320];
    std::snprintf(line, sizeof(line),
                  "train: llada %lld x %lld (heads %lld, ffn %lld, vocab %lld, tied), %.2fM "
                  "parameters; %s; %ssteps %lld..%lld of %lld, batch %lld, lr %g, tail pad %lld",
                  static_cast<long long>(o_.layers), static_cast<long long>(o_.hidden),
                  static_cast<long long>(o_.heads), static_cast<long long>(o_.ffn),
                  static_cast<long long>(config_.vocab_size), config_.num_parameters() / 1e6,
                  DescribeBackend(GetBackendInfo()).c_str(), o_.resume ? "resuming: " : "",
                  static_cast<long long>(start_step_ + 1), static_cast<long long>(last_step),
                  static_cast<long long>(o_.steps), static_cast<long long>(o_.batch), o_.lr,
                  static_cast<long long>(o_.tail_pad));
    Log(line);
  }
  if (start_step_ >= last_step) {
    Log("train: nothing to do (the run is at step " + std::to_string(start_step_) + ")");
    return result;
  }

  BatchPlan plan(corpus_.train, o_.batch, o_.seed);
  const auto start = std::chrono::steady_clock::now();
  auto window_start = start;
  double window_loss = 0;
  int64_t window_steps = 0, window_tokens = 0, total_tokens = 0;
  for (int64_t step = start_step_ + 1; step <= last_step; ++step) {
    const double lr = LearningRate(o_, step);
    for (auto& group : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    BatchTensors batch =
        MakeBatch(corpus_.train, plan.Batch(step - 1), eos_, Tail(kTailStream, step), o_.max_len);
    optimizer_->zero_grad();
    at::Tensor loss =
        MaskedLossSum(*model_, batch, mask_, Sampling(), DeriveSeed(o_.seed, kMaskStream, step)) /
        static_cast<double>(batch.response_tokens);
    loss.backward();
    ClipGradNorm(params_, kClipNorm);
    optimizer_->step();

    const double value = loss.item<double>();
    if (!std::isfinite(value)) {
      return Internal("the loss is " + std::to_string(value) + " at step " + std::to_string(step) +
                      "; try a lower --lr");
    }
    result.losses.push_back(value);
    window_loss += value;
    ++window_steps;
    window_tokens += batch.ids.numel();
    total_tokens += batch.ids.numel();

    const bool log_now = o_.log_every > 0 && (step % o_.log_every == 0 || step == last_step);
    if (log_now) {
      const auto now = std::chrono::steady_clock::now();
      const double window_s = std::chrono::duration<double>(now - window_start).count();
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const double per_step = elapsed / static_cast<double>(step - start_step_);
      char line[256];
      std::snprintf(line, sizeof(line),
                    "step %lld/%lld | loss %.4f | lr %.2e | %.0f tok/s | %.3f s/step | elapsed "
                    "%s | eta %s",
                    static_cast<long long>(step), static_cast<long long>(o_.steps),
                    window_loss / static_cast<double>(window_steps), lr,
                    static_cast<double>(window_tokens) / std::max(1e-9, window_s),
                    window_s / static_cast<double>(window_steps), Duration(elapsed).c_str(),
                    Duration(per_step * static_cast<double>(o_.steps - step)).c_str());
      Log(line);
      window_start = now;
      window_loss = 0;
      window_steps = window_tokens = 0;
    }
    const bool save_now = step == last_step || (o_.save_every > 0 && step % o_.save_every == 0);
    if (save_now) {
      const double eval = EvalLoss();
      result.last_eval_loss = eval;
      Status saved = SaveCheckpoint(step);
      if (!saved.ok())
        return saved.WithContext("saving the checkpoint at step " + std::to_string(step));
      char line[256];
      if (eval >= 0) {
        std::snprintf(line, sizeof(line),
                      "step %lld: eval loss %.4f (%zu held-out examples); "
                      "saved %s",
                      static_cast<long long>(step), eval, corpus_.eval.size(), o_.out_dir.c_str());
      } else {
        std::snprintf(line, sizeof(line), "step %lld: saved %s", static_cast<long long>(step),
                      o_.out_dir.c_str());
      }
      Log(line);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.seconds = seconds;
  result.tokens_per_step_mean =
      total_tokens / std::max<int64_t>(1, static_cast<int64_t>(result.losses.size()));
  if (last_step < o_.steps) {
    Log("train: stopped after step " + std::to_string(last_step) + " of " +
        std::to_string(o_.steps) + " (--stop-at); continue with --resume --out " + o_.out_dir);
  }
  return result;
}

}  // namespace

// Every step allocates and frees the same large activation buffers. glibc serves blocks
// over its mmap threshold with fresh mappings and returns freed heap tops to the kernel,
// so each step paid page faults on zeroed memory: a third of a training run's CPU time
// was system time. Keeping that memory in the process made the 4 x 128 recipe's steps 15%
// faster on the 2-core machine (docs/PERFORMANCE.md).
static void KeepFreedMemoryForReuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

StatusOr<TrainResult> Train(const TrainOptions& options) {
  ConfigureThreadsOnce();
  KeepFreedMemoryForReuse();
  if (options.threads > 0) at::set_num_threads(static_cast<int>(options.threads));
  std::function<void(const std::string&)> log = options.log;
  if (!log) log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  try {
    Trainer trainer(options, log);
    return trainer.Run();
  } catch (const c10::Error& e) {
    return Internal(std::string("LibTorch failed while training: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {  // std::filesystem, nlohmann::json
    return Internal(std::string("training failed: ") + e.what());
  }
}

}  // namespace qs::model
