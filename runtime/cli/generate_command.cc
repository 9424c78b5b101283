// quicksilver generate: one denoising run of a checkpoint on a prompt.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/diffusion_lm.h"
#include "model/tokenizer/chat_format.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

namespace {

// Prints the answer region of the canvas after every step; masks show as '_'.
class CanvasPrinter : public model::StepObserver {
 public:
  explicit CanvasPrinter(const model::Tokenizer* tokenizer) : tokenizer_(tokenizer) {}
  void OnStep(const model::StepEvent& e) override {
    std::string line;
    for (int64_t i = e.prompt_length; i < e.length; ++i) {
      const int32_t id = e.canvas[i];  // row 0
      if (id == e.mask_id) {
        line += "_";
      } else if (tokenizer_ != nullptr) {
        line += tokenizer_->Decode({id});
      } else {
        line += "[" + std::to_string(id) + "]";
      }
    }
    std::fprintf(stderr, "step %3lld (model calls %3lld) | %s\n", static_cast<long long>(e.step),
                 static_cast<long long>(e.model_calls), line.c_str());
  }

 private:
  const model::Tokenizer* tokenizer_;
};

}  // namespace

int RunGenerate(const std::vector<std::string>& args) {
  const std::string cmd = "generate";
  std::string model_dir, prompt, prompt_ids, sampler, remasking = "low_confidence", alg;
  std::string dtype = "float32";
  int64_t gen_length = 64, steps = 0, block_length = 0, seed = 0;
  double threshold = -1, temperature = 0, cfg_scale = 0, alg_temp = 0;
  bool chat = false, show_steps = false, json_out = false;
  FlagSet flags(cmd,
                "Denoise --gen-length tokens after a prompt with a LLaDA / Dream checkpoint and\n"
                "print the answer. Statistics go to stderr.");
  flags.String("model", &model_dir, "Checkpoint folder (config.json, safetensors, tokenizer.json)",
               true);
  flags.String("prompt", &prompt, "Prompt text (needs the checkpoint's tokenizer.json)");
  flags.String("prompt-ids", &prompt_ids,
               "Prompt as a JSON array of token ids (no tokenizer needed)");
  flags.Bool("chat", &chat, "Wrap the prompt in the model's chat markup as a user message");
  flags.Int("gen-length", &gen_length, "Tokens to generate");
  flags.Int("steps", &steps, "Denoising steps (0 = gen-length)");
  flags.Int("block-length", &block_length, "Semi-autoregressive block length (0 = one block)");
  flags.String("sampler", &sampler, "llada, fast_dllm or dream (default: the model's own)");
  flags.String("remasking", &remasking, "llada: low_confidence or random");
  flags.String("alg", &alg,
               "dream: maskgit_plus, topk_margin, entropy, origin, confidence_threshold");
  flags.Double("threshold", &threshold,
               "Confidence threshold (fast_dllm; dream confidence_threshold); default 0.9");
  flags.Double("temperature", &temperature, "0 = greedy");
  flags.Double("cfg-scale", &cfg_scale, "llada: classifier-free guidance scale (0 = off)");
  flags.Double("alg-temp", &alg_temp, "dream: position sampling temperature (0 = off)");
  std::string kv_cache = "none";
  flags.String("kv-cache", &kv_cache,
               "Fast-dLLM's approximate KV cache: none (exact), prefix or dual");
  flags.Int("seed", &seed, "Random seed");
  flags.String("dtype", &dtype, "Compute dtype: float32 or bfloat16");
  flags.Bool("show-steps", &show_steps, "Print the canvas after every step (stderr)");
  flags.Bool("json", &json_out, "Print the result as JSON (ids, text, steps, timing)");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (!flags.positional().empty()) {
    return UsageError(cmd, "unexpected argument '" + flags.positional()[0] + "' (use --prompt)");
  }
  if (prompt.empty() == prompt_ids.empty()) {
    return UsageError(cmd, "give exactly one of --prompt TEXT or --prompt-ids JSON");
  }

  StatusOr<std::unique_ptr<model::DiffusionLm>> lm = model::DiffusionLm::Load(model_dir, dtype);
  if (!lm.ok()) return Failure(cmd, lm.status().ToString());
  std::unique_ptr<model::Tokenizer> tokenizer;
  if (std::filesystem::exists(model_dir + "/tokenizer.json")) {
    StatusOr<std::unique_ptr<model::Tokenizer>> t = model::Tokenizer::Load(model_dir);
    if (!t.ok()) return Failure(cmd, t.status().ToString());
    tokenizer = std::move(t).value();
  }

  std::vector<int32_t> ids;
  if (!prompt_ids.empty()) {
    try {
      ids = nlohmann::json::parse(prompt_ids).get<std::vector<int32_t>>();
    } catch (const nlohmann::json::exception& e) {
      return UsageError(cmd, "--prompt-ids must be a JSON array of integers");
    }
  } else {
    if (!tokenizer) {
      return Failure(cmd,
                     model_dir + " has no tokenizer.json; use --prompt-ids instead of --prompt");
    }
    std::string text = prompt;
    if (chat) {
      StatusOr<model::ChatFormat> format =
          model::ChatFormatForCheckpoint(model_dir, (*lm)->config().model_type);
      if (!format.ok()) return Failure(cmd, format.status().ToString());
      text = format->Render({{"user", prompt}});
    }
    ids = tokenizer->Encode(text);
  }

  model::GenerateOptions options = (*lm)->DefaultOptions();
  model::SamplerConfig& sc = options.sampler;
  if (!sampler.empty()) {
    StatusOr<model::SamplerKind> kind = model::ParseSamplerKind(sampler);
    if (!kind.ok()) return UsageError(cmd, "--sampler: " + kind.status().message());
    sc.kind = *kind;
  }
  StatusOr<model::Remasking> rm = model::ParseRemasking(remasking);
  if (!rm.ok()) return UsageError(cmd, "--remasking: " + rm.status().message());
  sc.remasking = *rm;
  if (!alg.empty()) {
    StatusOr<model::DreamAlg> a = model::ParseDreamAlg(alg);
    if (!a.ok()) return UsageError(cmd, "--alg: " + a.status().message());
    sc.alg = *a;
  }
  sc.gen_length = gen_length;
  sc.steps = steps > 0 ? steps : gen_length;
  sc.block_length = block_length;
  if (threshold >= 0) sc.threshold = threshold;
  sc.temperature = temperature;
  sc.cfg_scale = cfg_scale;
  sc.alg_temp = alg_temp;
  sc.seed = static_cast<uint64_t>(seed);
  StatusOr<model::KvCache> cache = model::ParseKvCache(kv_cache);
  if (!cache.ok()) return UsageError(cmd, "--kv-cache: " + cache.status().message());
  options.kv_cache = *cache;

  CanvasPrinter printer(tokenizer.get());
  StatusOr<model::GenerateResult> r =
      (*lm)->Generate(ids, options, nullptr, show_steps ? &printer : nullptr);
  if (!r.ok()) return Failure(cmd, r.status().ToString());
  const std::string text = tokenizer ? tokenizer->Decode(r->ids) : "";
  if (json_out) {
    nlohmann::json out = {{"ids", r->ids},
                          {"steps", r->steps},
                          {"model_calls", r->model_calls},
                          {"ended_with_eos", r->ended_with_eos},
                          {"seconds", r->seconds},
                          {"sampler", model::SamplerKindName(sc.kind)}};
    if (tokenizer) out["text"] = text;
    std::printf("%s\n", out.dump().c_str());
  } else if (tokenizer) {
    std::printf("%s\n", text.c_str());
  } else {
    std::printf("%s\n", nlohmann::json(r->ids).dump().c_str());
  }
  std::fprintf(stderr,
               "generate: %s sampler, prompt %zu tokens, %zu answer tokens, %lld steps, %lld model "
               "calls, %.3f s\n",
               model::SamplerKindName(sc.kind), ids.size(), r->ids.size(),
               static_cast<long long>(r->steps), static_cast<long long>(r->model_calls),
               r->seconds);
  return kExitOk;
}

}  // namespace qs::cli
