#include "model/transformer.h"

#include <torch/version.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "model/backend.h"
#include "model/io/safetensors.h"
#include "model/torch_util.h"

namespace qs::model {

// One weight of the model: its name in the checkpoint layout, its shape, where it goes.
struct WeightSlot {
  std::string name;
  std::vector<int64_t> shape;
  at::Tensor* target;
};

namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Transformer::Transformer(ModelConfig config, LoadOptions options)
    : config_(std::move(config)), options_(options) {
  ConfigureThreadsOnce();
  layers_.resize(static_cast<size_t>(config_.num_layers));
  const int64_t d = config_.head_dim;
  // inv_freq[i] = theta^(-2i/d), computed as transformers does (int64 arange -> float).
  inv_freq_ =
      1.0 / at::pow(config_.rope_theta,
                    at::arange(0, d, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                        static_cast<double>(d));
  inv_freq_ = inv_freq_.to(at::kFloat).to(options_.device);
}

std::vector<WeightSlot> Transformer::Slots() {
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size, qd = c.num_heads * c.head_dim, kvd = c.num_kv_heads * c.head_dim;
  const int64_t im = c.intermediate_size;
  const bool llada = c.arch == Architecture::kLlada;
  std::vector<WeightSlot> slots;
  slots.push_back({llada ? "model.transformer.wte.weight" : "model.embed_tokens.weight",
                   {c.vocab_size, h},
                   &embed_});
  slots.push_back(
      {llada ? "model.transformer.ln_f.weight" : "model.norm.weight", {h}, &final_norm_});
  if (!c.tie_word_embeddings) {
    slots.push_back({llada ? "model.transformer.ff_out.weight" : "lm_head.weight",
                     {c.vocab_size, h},
                     &lm_head_});
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& w = layers_[i];
    const std::string p = llada ? "model.transformer.blocks." + std::to_string(i) + "."
                                : "model.layers." + std::to_string(i) + ".";
    const std::string a = llada ? p : p + "self_attn.";
    const std::string m = llada ? p : p + "mlp.";
    slots.push_back({p + (llada ? "attn_norm" : "input_layernorm") + ".weight", {h}, &w.attn_norm});
    slots.push_back({a + "q_proj.weight", {qd, h}, &w.q});
    slots.push_back({a + "k_proj.weight", {kvd, h}, &w.k});
    slots.push_back({a + "v_proj.weight", {kvd, h}, &w.v});
    if (c.qkv_bias) {
      slots.push_back({a + "q_proj.bias", {qd}, &w.q_bias});
      slots.push_back({a + "k_proj.bias", {kvd}, &w.k_bias});
      slots.push_back({a + "v_proj.bias", {kvd}, &w.v_bias});
    }
    slots.push_back({a + (llada ? "attn_out" : "o_proj") + ".weight", {h, qd}, &w.o});
    slots.push_back(
        {p + (llada ? "ff_norm" : "post_attention_layernorm") + ".weight", {h}, &w.mlp_norm});
    slots.push_back({m + (llada ? "ff_proj" : "gate_proj") + ".weight", {im, h}, &w.gate});
    slots.push_back({m + "up_proj.weight", {im, h}, &w.up});
    slots.push_back({m + (llada ? "ff_out" : "down_proj") + ".weight", {h, im}, &w.down});
  }
  return slots;
}

StatusOr<std::unique_ptr<Transformer>> Transformer::Load(const std::string& dir,
                                                         const LoadOptions& options) {
  QS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  QS_ASSIGN_OR_RETURN(CheckpointFiles files, CheckpointFiles::Open(dir));
  std::unique_ptr<Transformer> model(new Transformer(config, options));
  std::vector<WeightSlot> slots = model->Slots();

  // Check everything before copying anything: missing, unexpected, shape, dtype.
  std::set<std::string> expected;
  std::vector<std::string> missing, bad_shape, bad_dtype;
  for (const WeightSlot& s : slots) {
    expected.insert(s.name);
    const CheckpointFiles::Entry* e = files.Find(s.name);
    if (e == nullptr) {
      missing.push_back(s.name);
      continue;
    }
    if (e->info->shape != s.shape) {
      bad_shape.push_back(s.name + " is " + ShapeText(e->info->shape) + ", config.json implies " +
                          ShapeText(s.shape));
    }
    DType d = e->info->dtype;
    if (d != DType::kF32 && d != DType::kBF16 && d != DType::kF16) {
      bad_dtype.push_back(s.name + " (" + DTypeName(d) + ")");
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, entry] : files.tensors()) {
    // Tied checkpoints sometimes still carry the head; it is the embedding, so ignore it.
    const bool tied_head = config.tie_word_embeddings &&
                           (name == "lm_head.weight" || name == "model.transformer.ff_out.weight");
    // Non-persistent RoPE buffers that some exporters save.
    const bool rope_buffer = name.find("rotary_emb.inv_freq") != std::string::npos;
    if (!expected.count(name) && !tied_head && !rope_buffer) unexpected.push_back(name);
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  };
  const std::string layout = std::string(" (") + ArchitectureName(config.arch) + " layout)";
  if (!missing.empty()) {
    return InvalidArgument(dir + ": " + std::to_string(missing.size()) + " missing tensors" +
                           layout + ": " + join(missing));
  }
  if (!unexpected.empty()) {
    return InvalidArgument(dir + ": " + std::to_string(unexpected.size()) + " unexpected tensors" +
                           layout + ": " + join(unexpected));
  }
  if (!bad_shape.empty()) return InvalidArgument(dir + ": shape mismatch: " + join(bad_shape));
  if (!bad_dtype.empty()) {
    return Unsupported(dir +
                       ": tensors with a dtype other than F32, BF16, F16: " + join(bad_dtype));
  }

  try {
    for (const WeightSlot& s : slots) {
      const CheckpointFiles::Entry* e = files.Find(s.name);
      // Copy out of the mapping (its data may be unaligned), convert, then drop the pages so
      // resident memory stays near one copy of the weights.
      at::Tensor stored =
          at::empty(s.shape, at::TensorOptions().dtype(ToScalarType(e->info->dtype)));
      std::memcpy(stored.data_ptr(), e->file->Data(*e->info), e->info->end - e->info->begin);
      *s.target = stored.to(options.device, options.compute_dtype);
      e->file->Release(*e->info);
    }
  } catch (const c10::Error& e) {
    return Internal(dir + ": LibTorch failed while loading weights: " + e.what_without_backtrace());
  }
  if (config.tie_word_embeddings) model->lm_head_ = model->embed_;
  return model;
}

std::unique_ptr<Transformer> Transformer::Random(const ModelConfig& config, uint64_t seed,
                                                 const LoadOptions& options) {
  std::unique_ptr<Transformer> model(new Transformer(config, options));
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const bool on_device = !options.device.is_cpu();
  for (const WeightSlot& s : model->Slots()) {
    const bool is_norm = s.shape.size() == 1 && s.name.find("bias") == std::string::npos;
    if (on_device) {
      // Filled where they live (an 8B model would take minutes through the host); the
      // values come from the device's own generator, so they differ from the CPU's.
      const auto opts = at::TensorOptions().device(options.device).dtype(options.compute_dtype);
      *s.target = is_norm ? at::ones(s.shape, opts) : at::empty(s.shape, opts).normal_(0.0, 0.02);
      continue;
    }
    at::Tensor t = is_norm ? at::ones(s.shape) : at::normal(0.0, 0.02, s.shape, gen);
    *s.target = t.to(options.device, options.compute_dtype);
  }
  if (config.tie_word_embeddings) model->lm_head_ = model->embed_;
  return model;
}

Status Transformer::Save(const std::string& dir, std::optional<at::ScalarType> dtype) const {
  auto* self = const_cast<Transformer*>(this);
  std::vector<at::Tensor> keep;
  std::vector<TensorToWrite> out;
  for (const WeightSlot& s : self->Slots()) {
    at::Tensor t = s.target->detach().to(at::kCPU).contiguous();
    if (dtype) t = t.to(*dtype);
    DType d = t.scalar_type() == at::kBFloat16 ? DType::kBF16
              : t.scalar_type() == at::kHalf   ? DType::kF16
                                               : DType::kF32;
    if (d == DType::kF32) t = t.to(at::kFloat);
    keep.push_back(t);
    out.push_back({s.name, d, s.shape, keep.back().data_ptr()});
  }
  return WriteSafetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
}

std::vector<std::pair<std::string, at::Tensor>> Transformer::TrainableWeights() {
  std::vector<std::pair<std::string, at::Tensor>> weights;
  for (const WeightSlot& s : Slots()) {
    if (!s.target->is_leaf()) *s.target = s.target->detach();
    s.target->set_requires_grad(true);
    weights.emplace_back(s.name, *s.target);
  }
  // Slots() lists the embedding but not a tied head; re-point the head at the (possibly
  // detached) embedding so both uses share one leaf.
  if (config_.tie_word_embeddings) lm_head_ = embed_;
  return weights;
}

int64_t Transformer::weight_bytes() const {
  int64_t total = 0;
  for (const WeightSlot& s : const_cast<Transformer*>(this)->Slots()) {
    total += s.target->numel() * static_cast<int64_t>(s.target->element_size());
  }
  return total;
}

at::Tensor Transformer::RmsNorm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor h = x.to(at::kFloat);
  h = h * at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + config_.rms_norm_eps);
  return weight * h.to(x.scalar_type());
}

namespace {
at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}
}  // namespace

ForwardOutput Transformer::Forward(const at::Tensor& input_ids, const ForwardOptions& fo) const {
  return ForwardImpl(input_ids, 0, input_ids.size(1), nullptr, false, fo);
}

at::Tensor Transformer::ForwardRange(const at::Tensor& input_ids, int64_t begin, int64_t end,
                                     KvCacheState* cache, bool store,
                                     const at::Tensor& logit_positions) const {
  QS_CHECK(cache != nullptr && 0 <= begin && begin < end && end <= input_ids.size(1),
           "ForwardRange: a cache and a range inside the canvas");
  QS_CHECK(!store || (begin == 0 && end == input_ids.size(1)),
           "ForwardRange: only a forward over the whole canvas fills the cache");
  QS_CHECK(store || cache->k.size() == layers_.size(), "ForwardRange: the cache is empty");
  ForwardOptions fo;
  fo.logit_positions = logit_positions;
  return ForwardImpl(input_ids, begin, end, cache, store, fo).logits;
}

ForwardOutput Transformer::ForwardImpl(const at::Tensor& input_ids, int64_t begin, int64_t end,
                                       KvCacheState* cache, bool store,
                                       const ForwardOptions& fo) const {
  const int64_t b = input_ids.size(0), l = end - begin;
  const int64_t nh = config_.num_heads, kv = config_.num_kv_heads, hd = config_.head_dim;
  const bool ranged = cache != nullptr && !store;  // stale keys outside [begin, end)
  if (store) {
    cache->k.assign(layers_.size(), at::Tensor());
    cache->v.assign(layers_.size(), at::Tensor());
  }
  ForwardOutput out;
  at::Tensor ids = input_ids.to(options_.device, at::kLong);
  if (l != ids.size(1)) ids = ids.slice(1, begin, end);
  at::Tensor x = embed_.index_select(0, ids.reshape({-1})).view({b, l, config_.hidden_size});
  if (fo.want_hidden) out.hidden.push_back(x);

  // RoPE tables in fp32, cast to the compute dtype as transformers does.
  at::Tensor pos =
      at::arange(begin, end, at::TensorOptions().dtype(at::kFloat).device(options_.device));
  at::Tensor freqs = at::outer(pos, inv_freq_);
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cos = emb.cos().to(x.scalar_type()).view({1, 1, l, hd});
  at::Tensor sin = emb.sin().to(x.scalar_type()).view({1, 1, l, hd});
  at::Tensor causal_mask;
  if (fo.causal) {
    causal_mask =
        at::ones({l, l}, at::TensorOptions().dtype(at::kBool).device(options_.device)).triu(1);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));

  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& w = layers_[i];
    at::Tensor h = RmsNorm(x, w.attn_norm);
    at::Tensor q = at::linear(h, w.q, w.q_bias).view({b, l, nh, hd}).transpose(1, 2);
    at::Tensor k = at::linear(h, w.k, w.k_bias).view({b, l, kv, hd}).transpose(1, 2);
    at::Tensor v = at::linear(h, w.v, w.v_bias).view({b, l, kv, hd}).transpose(1, 2);
    q = q * cos + RotateHalf(q) * sin;
    k = k * cos + RotateHalf(k) * sin;
    if (store) {
      cache->k[i] = k;
      cache->v[i] = v;
    } else if (ranged) {
      // The fresh range between the cached entries before and after it.
      const at::Tensor& ck = cache->k[i];
      const at::Tensor& cv = cache->v[i];
      const int64_t total = ck.size(2);
      k = at::cat({ck.slice(2, 0, begin), k, ck.slice(2, end, total)}, 2);
      v = at::cat({cv.slice(2, 0, begin), v, cv.slice(2, end, total)}, 2);
    }
    if (kv != nh) {  // grouped-query attention: each K/V head serves nh/kv query heads
      k = k.repeat_interleave(nh / kv, 1);
      v = v.repeat_interleave(nh / kv, 1);
    }
    at::Tensor attn;
#if TORCH_VERSION_MAJOR >= 2
    // LibTorch 2.x: the fused kernel (flash / memory-efficient attention on CUDA), with its
    // default scale 1/sqrt(head_dim). Causal runs (verify of autoregressive fixtures) keep
    // the explicit path below.
    if (!fo.causal && !options_.device.is_cpu()) {
      attn = at::scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape({b, l, nh * hd});
    }
#endif
    if (!attn.defined()) {
      at::Tensor scores = at::matmul(q, k.transpose(-2, -1)) * scale;
      if (fo.causal)
        scores = scores.masked_fill(causal_mask, -std::numeric_limits<float>::infinity());
      at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
      attn = at::matmul(probs, v).transpose(1, 2).reshape({b, l, nh * hd});
    }
    x = x + at::linear(attn, w.o);
    h = RmsNorm(x, w.mlp_norm);
    x = x + at::linear(at::silu(at::linear(h, w.gate)) * at::linear(h, w.up), w.down);
    if (fo.want_hidden && i + 1 < layers_.size()) out.hidden.push_back(x);
  }
  const bool select = fo.want_logits && fo.logit_positions.defined();
  if (select && fo.logit_positions.device().is_cpu()) {  // no device sync for the check
    QS_CHECK(
        fo.logit_positions.numel() == 0 || (fo.logit_positions.min().item<int64_t>() >= begin &&
                                            fo.logit_positions.max().item<int64_t>() < end),
        "Forward: logit positions outside the positions computed");
  }
  at::Tensor rows =
      select ? (fo.logit_positions.to(options_.device, at::kLong) - begin) : at::Tensor();
  if (fo.want_hidden) {
    x = RmsNorm(x, final_norm_);
    out.hidden.push_back(x);
    if (fo.want_logits) out.logits = LmHead(select ? x.index_select(1, rows) : x);
  } else if (fo.want_logits) {
    // The final norm is per position: only the rows the LM head reads are normalized.
    out.logits = LmHead(RmsNorm(select ? x.index_select(1, rows) : x, final_norm_));
  }
  return out;
}

at::Tensor Transformer::LmHead(const at::Tensor& final_hidden) const {
  return at::linear(final_hidden, lm_head_);
}

}  // namespace qs::model
