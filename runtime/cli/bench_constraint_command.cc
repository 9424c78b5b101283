// quicksilver bench constraint: what a JSON-Schema constraint adds to a denoising step.
// A random-weight model over a real tokenizer's vocabulary (a small shape for the CPU, or
// Dream-7B's shape for a GPU) denoises the same prompt with and without the constraint,
// interleaved; the figure is the median time per model call of each, and their ratio.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "model/backend.h"
#include "model/diffusion_lm.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/agent/diffusion_agent.h"
#include "runtime/cli/command.h"
#include "runtime/json_schema/schema.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/schema_constraint.h"
#include "runtime/structured/token_matcher.h"

namespace qs::cli {

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The random model's shape; the vocabulary is the tokenizer's (agent::RandomModelFor's
// rule: a multiple of 64, with room for a mask id when the tokenizer has none).
StatusOr<model::ModelConfig> ShapeFor(const std::string& shape, const model::Tokenizer& tokenizer) {
  model::ModelConfig c = agent::RandomConfigFor(tokenizer);
  if (shape == "small") {  // ~50M parameters with Qwen2's vocabulary: CPU-sized
    c.hidden_size = 256;
    c.num_layers = 4;
    c.num_heads = c.num_kv_heads = 4;
    c.intermediate_size = 704;
  } else if (shape == "dream-7b") {  // Dream-v0-7B (Qwen2.5-7B): GQA with 4 key/value heads
    c.hidden_size = 3584;
    c.num_layers = 28;
    c.num_heads = 28;
    c.num_kv_heads = 4;
    c.intermediate_size = 18944;
  } else {
    return InvalidArgument("--shape must be small or dream-7b, not '" + shape + "'");
  }
  c.head_dim = c.hidden_size / c.num_heads;
  c.rope_theta = 1000000;
  c.rms_norm_eps = 1e-6;
  return c;
}

}  // namespace

int RunBenchConstraint(const std::vector<std::string>& args) {
  const std::string cmd = "bench constraint";
  std::string tokenizer_dir, schema_path, device = "cpu", dtype = "float32", shape = "small";
  std::string prompt = "Look up the order the customer asks about and call the tool with its id. ";
  int64_t prompt_tokens = 256, gen_length = 64, block_length = 32, repeats = 3;
  FlagSet flags(cmd,
                "Time denoising steps with and without a JSON-Schema constraint: a random-weight\n"
                "model over --tokenizer's vocabulary, LLaDA's sampler (one step per token),\n"
                "the same prompt both ways, interleaved. Prints ms per model call of each\n"
                "and the overhead of the constrained path.");
  flags.String("tokenizer", &tokenizer_dir, "Folder with tokenizer.json", true);
  flags.String("schema", &schema_path, "JSON Schema of the document", true);
  flags.String("device", &device, "cpu, cuda or cuda:N");
  flags.String("dtype", &dtype, "Compute dtype: float32 or bfloat16");
  flags.String("shape", &shape, "Random model shape: small (CPU) or dream-7b (GPU)");
  flags.Int("gen-length", &gen_length, "Canvas tokens after the prompt (= steps)");
  flags.Int("block-length", &block_length, "Block length");
  flags.Int("repeats", &repeats, "Timed generations of each kind after one warm-up");
  flags.String("prompt", &prompt, "Prompt text, repeated up to --prompt-tokens");
  flags.Int("prompt-tokens", &prompt_tokens, "Prompt length in tokens (an agent prompt: ~300)");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (repeats < 1 || gen_length < 1 || prompt_tokens < 1 || block_length < 1 ||
      gen_length % block_length != 0) {
    return UsageError(cmd,
                      "--repeats and --gen-length positive, --gen-length a multiple of "
                      "--block-length");
  }
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(tokenizer_dir);
  if (!tokenizer.ok()) return Failure(cmd, tokenizer.status().ToString());
  StatusOr<std::string> text = ReadFile(schema_path);
  if (!text.ok()) return Failure(cmd, text.status().ToString());
  nlohmann::ordered_json schema_json = nlohmann::ordered_json::parse(*text, nullptr, false);
  if (schema_json.is_discarded()) return Failure(cmd, schema_path + " is not valid JSON");
  StatusOr<json_schema::Schema> schema = json_schema::Compile(schema_json);
  if (!schema.ok()) return Failure(cmd, schema_path + ": " + schema.status().ToString());
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kGenerate);
  if (!grammar.ok()) return Failure(cmd, schema_path + ": " + grammar.status().ToString());
  StatusOr<model::ModelConfig> config = ShapeFor(shape, **tokenizer);
  if (!config.ok()) return UsageError(cmd, config.status().message());

  PrintMachine();
  std::printf(
      "model: random, hidden %lld, %lld layers, %lld heads (%lld key/value), ffn %lld, vocab "
      "%lld (%.2fB parameters), %s on %s\n",
      static_cast<long long>(config->hidden_size), static_cast<long long>(config->num_layers),
      static_cast<long long>(config->num_heads), static_cast<long long>(config->num_kv_heads),
      static_cast<long long>(config->intermediate_size), static_cast<long long>(config->vocab_size),
      config->num_parameters() / 1e9, dtype.c_str(), device.c_str());
  std::fflush(stdout);
  StatusOr<std::unique_ptr<model::DiffusionLm>> lm =
      model::DiffusionLm::RandomOn(*config, 1, device, dtype);
  if (!lm.ok()) return Failure(cmd, lm.status().ToString());
  const int32_t eos = static_cast<int32_t>(config->eos_token_id);
  structured::TokenMatcher matcher(agent::TokenBytesForGrammar(**tokenizer), {eos});

  model::GenerateOptions options = (*lm)->DefaultOptions();
  options.sampler.kind = model::SamplerKind::kLlada;
  options.sampler.gen_length = gen_length;
  options.sampler.steps = gen_length;
  options.sampler.block_length = block_length;
  options.sampler.early_stop = false;
  std::vector<int32_t> prompt_ids;
  const std::vector<int32_t> sentence = (*tokenizer)->Encode(prompt);
  if (sentence.empty()) return UsageError(cmd, "--prompt is empty");
  while (static_cast<int64_t>(prompt_ids.size()) < prompt_tokens) {
    prompt_ids.insert(prompt_ids.end(), sentence.begin(), sentence.end());
  }
  prompt_ids.resize(static_cast<size_t>(prompt_tokens));

  std::vector<double> free_ms, constrained_ms, constraint_share;
  int64_t free_calls = 0, constrained_calls = 0, document_tokens = 0;
  for (int64_t k = 0; k <= repeats; ++k) {
    StatusOr<model::GenerateResult> free_run = (*lm)->Generate(prompt_ids, options);
    if (!free_run.ok()) return Failure(cmd, free_run.status().ToString());
    structured::SchemaConstraint constraint(&matcher, *grammar, eos);
    if (Status s = constraint.CheckBudget(gen_length); !s.ok()) return Failure(cmd, s.message());
    StatusOr<model::GenerateResult> constrained_run =
        (*lm)->Generate(prompt_ids, options, &constraint);
    if (!constrained_run.ok()) return Failure(cmd, constrained_run.status().ToString());
    if (k == 0) continue;  // warm-up: allocator, first-visit masks
    free_ms.push_back(free_run->seconds * 1000.0 / static_cast<double>(free_run->model_calls));
    constrained_ms.push_back(constrained_run->seconds * 1000.0 /
                             static_cast<double>(constrained_run->model_calls));
    constraint_share.push_back(constraint.stats().constraint_seconds / constrained_run->seconds);
    free_calls = free_run->model_calls;
    constrained_calls = constrained_run->model_calls;
    document_tokens = static_cast<int64_t>(constrained_run->ids.size());
  }
  const double free_step = Median(free_ms), constrained_step = Median(constrained_ms);
  std::printf(
      "schedule: llada, prompt %zu + gen %lld tokens, block %lld; schema %s (document "
      "%lld tokens)\n",
      prompt_ids.size(), static_cast<long long>(gen_length), static_cast<long long>(block_length),
      schema_path.c_str(), static_cast<long long>(document_tokens));
  std::printf("unconstrained | %7.2f ms per model call | %lld calls\n", free_step,
              static_cast<long long>(free_calls));
  std::printf(
      "constrained   | %7.2f ms per model call | %lld calls | constraint hooks %.1f%% "
      "of the time\n",
      constrained_step, static_cast<long long>(constrained_calls),
      100.0 * Median(constraint_share));
  std::printf("constrained / unconstrained step: %.3fx (median of %lld)\n",
              constrained_step / free_step, static_cast<long long>(repeats));
  return kExitOk;
}

}  // namespace qs::cli
