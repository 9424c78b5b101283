// quicksilver bench: benchmark programs that print figures with the machine they ran on.
#include <cstdio>
#include <thread>

#include "model/backend.h"
#include "model/bench.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

namespace {

void PrintMachine() {
  std::printf("machine: %u hardware threads; %s\n", std::thread::hardware_concurrency(),
              model::DescribeBackend(model::GetBackendInfo()).c_str());
}

int RunBenchLoad(const std::vector<std::string>& args) {
  std::string model_dir, dtype = "float32";
  FlagSet flags("bench load",
                "Load a checkpoint and print the time, the weight bytes and the peak resident\n"
                "memory of the process.");
  flags.String("model", &model_dir, "Checkpoint folder", true);
  flags.String("dtype", &dtype, "Compute dtype: float32 or bfloat16");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  PrintMachine();
  StatusOr<model::LoadBenchResult> r = model::BenchLoad(model_dir, dtype);
  if (!r.ok()) return Failure("bench load", r.status().ToString());
  std::printf("loaded %s: %.1fM parameters, checkpoint %.1f MB, in memory %.1f MB (%s)\n",
              model_dir.c_str(), r->parameters / 1e6, r->checkpoint_bytes / 1e6,
              r->weight_bytes_in_memory / 1e6, dtype.c_str());
  std::printf(
      "load time %.2f s; peak RSS %.1f MB = %.3f x weights in memory\n", r->seconds,
      r->peak_rss_bytes / 1e6,
      static_cast<double>(r->peak_rss_bytes) / static_cast<double>(r->weight_bytes_in_memory));
  return kExitOk;
}

int RunBenchDenoise(const std::vector<std::string>& args) {
  model::DenoiseBenchOptions o;
  std::string model_dir;
  int64_t hidden = 512, layers = 8, heads = 8, vocab = 24000, repeats = 3;
  FlagSet flags("bench denoise",
                "Time one forward pass and a fixed-schedule generation (early stop off) and print\n"
                "ms per denoising step and tokens per second. --model random builds a random\n"
                "LLaDA-layout model (default shape: about 50M parameters).");
  flags.String("model", &model_dir, "Checkpoint folder, or 'random'", true);
  flags.Int("prompt-length", &o.prompt_length, "Prompt tokens");
  flags.Int("gen-length", &o.gen_length, "Generated tokens");
  flags.Int("steps", &o.steps, "Denoising steps");
  flags.Int("block-length", &o.block_length, "Block length (llada)");
  flags.String("sampler", &o.sampler, "llada or dream (default: the model's own)");
  flags.String("dtype", &o.dtype, "Compute dtype");
  flags.Int("repeats", &repeats, "Timed repeats (the median is reported)");
  flags.Int("hidden", &hidden, "random: hidden size");
  flags.Int("layers", &layers, "random: layers");
  flags.Int("heads", &heads, "random: attention heads");
  flags.Int("vocab", &vocab, "random: vocabulary size");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  o.repeats = static_cast<int>(repeats);
  if (model_dir == "random") {
    model::ModelConfig& c = o.random_config;
    c.arch = model::Architecture::kLlada;
    c.model_type = "llada";
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.num_heads = heads;
    c.num_kv_heads = heads;
    c.head_dim = heads > 0 ? hidden / heads : 0;
    c.intermediate_size = (hidden * 8 / 3 + 63) / 64 * 64;
    c.vocab_size = vocab;
    c.rope_theta = 500000;
    c.rms_norm_eps = 1e-5;
    c.mask_token_id = vocab - 1;
    c.eos_token_id = vocab - 2;
    if (hidden <= 0 || heads <= 0 || hidden % heads != 0 || layers <= 0 || vocab < 16) {
      return UsageError("bench denoise", "random model shape: hidden must be a multiple of heads");
    }
  } else {
    o.model_dir = model_dir;
  }
  PrintMachine();
  StatusOr<model::DenoiseBenchResult> r = model::BenchDenoise(o);
  if (!r.ok()) return Failure("bench denoise", r.status().ToString());
  std::printf("model: %s (%s, %.1fM parameters, %s)\n", model_dir.c_str(),
              model::ArchitectureName(r->config.arch), r->config.num_parameters() / 1e6,
              o.dtype.c_str());
  std::printf("schedule: %s, prompt %lld + gen %lld = %lld tokens, %lld steps, block %lld\n",
              r->sampler.c_str(), static_cast<long long>(o.prompt_length),
              static_cast<long long>(o.gen_length),
              static_cast<long long>(o.prompt_length + o.gen_length),
              static_cast<long long>(r->steps),
              static_cast<long long>(r->sampler == "dream" ? o.gen_length : o.block_length));
  std::printf("forward %.2f ms | denoising step %.2f ms | %.1f tokens/s (median of %d)\n",
              r->forward_ms, r->step_ms, r->tokens_per_second, o.repeats);
  return kExitOk;
}

}  // namespace

int RunBench(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver bench SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  load      load time and peak memory of a checkpoint\n"
      "  denoise   ms per denoising step and tokens/s of a fixed schedule\n";
  if (args.empty()) return UsageError("bench", "missing subcommand (load, denoise)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "load") return RunBenchLoad({args.begin() + 1, args.end()});
  if (args[0] == "denoise") return RunBenchDenoise({args.begin() + 1, args.end()});
  return UsageError("bench", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
