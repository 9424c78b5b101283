// quicksilver model verify: compare a checkpoint's outputs with reference logits.
#include <cstdio>

#include "model/bench.h"
#include "model/verify.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

namespace {

int RunModelVerify(const std::vector<std::string>& args) {
  std::string model_dir, expected;
  double atol = 1e-4;
  std::string dtype = "float32";
  FlagSet flags(
      "model verify",
      "Run the model on the input_ids of FILE.safetensors and print the largest absolute\n"
      "difference of logits (bidirectional, and causal when present) and hidden states.\n"
      "Exit 0 within --atol, 1 beyond.");
  flags.String("model", &model_dir, "Checkpoint folder (config.json + safetensors)", true);
  flags.String("expected", &expected, "Reference file with input_ids and logits_* tensors", true);
  flags.Double("atol", &atol, "Largest allowed absolute difference");
  flags.String("dtype", &dtype, "Compute dtype: float32 or bfloat16");
  std::string device = "cpu";
  flags.String("device", &device, "cpu, cuda or cuda:N");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (!flags.positional().empty()) {
    return UsageError("model verify", "unexpected argument '" + flags.positional()[0] + "'");
  }
  model::VerifyOptions options;
  options.atol = atol;
  options.dtype = dtype;
  options.device = device;
  StatusOr<model::VerifyReport> report = model::VerifyModel(model_dir, expected, options);
  if (!report.ok()) return Failure("model verify", report.status().ToString());
  std::printf("model: %s (%s)\n", model_dir.c_str(), report->model_description.c_str());
  for (const model::VerifyComparison& c : report->comparisons) {
    std::printf("  %-26s max |diff| %.3g  %s\n", c.name.c_str(), c.max_abs_diff,
                c.passed ? "ok" : "BEYOND atol");
  }
  std::printf("%s (atol %g)\n", report->passed ? "PASS" : "FAIL", atol);
  return report->passed ? kExitOk : kExitFailure;
}

int RunModelInitRandom(const std::vector<std::string>& args) {
  std::string out, arch = "llada", dtype = "float32";
  int64_t hidden = 512, layers = 8, heads = 8, kv_heads = 0, intermediate = 0, vocab = 32000;
  int64_t seed = 0;
  FlagSet flags("model init-random",
                "Write a checkpoint folder with random weights (config.json + model.safetensors),\n"
                "for benchmarks and tests. The layout follows --arch.");
  flags.String("out", &out, "Folder to write (created if missing)", true);
  flags.String("arch", &arch, "llada, Dream, llama or qwen2");
  flags.Int("hidden", &hidden, "Hidden size");
  flags.Int("layers", &layers, "Number of layers");
  flags.Int("heads", &heads, "Attention heads");
  flags.Int("kv-heads", &kv_heads, "Key/value heads (0 = same as --heads)");
  flags.Int("intermediate", &intermediate, "MLP size (0 = 8/3 x hidden, rounded to 64)");
  flags.Int("vocab", &vocab, "Vocabulary size");
  flags.String("dtype", &dtype, "Stored dtype: float32, bfloat16 or float16");
  flags.Int("seed", &seed, "Random seed");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  StatusOr<model::Architecture> parsed_arch = model::ParseArchitecture(arch);
  if (!parsed_arch.ok()) return UsageError("model init-random", parsed_arch.status().message());
  model::ModelConfig config;
  config.arch = *parsed_arch;
  config.model_type = model::ArchitectureName(config.arch);
  config.qkv_bias =
      config.arch == model::Architecture::kDream || config.arch == model::Architecture::kQwen2;
  config.hidden_size = hidden;
  config.num_layers = layers;
  config.num_heads = heads;
  config.num_kv_heads = kv_heads > 0 ? kv_heads : heads;
  config.head_dim = heads > 0 ? hidden / heads : 0;
  config.intermediate_size = intermediate > 0 ? intermediate : (hidden * 8 / 3 + 63) / 64 * 64;
  config.vocab_size = vocab;
  config.max_position_embeddings = 4096;
  config.mask_token_id = vocab - 1;
  config.eos_token_id = vocab - 2;
  // Re-validate the final numbers through the same parser users' configs go through.
  StatusOr<model::ModelConfig> checked =
      model::ParseModelConfig(model::ModelConfigToJson(config), "the requested shape");
  if (!checked.ok()) return UsageError("model init-random", checked.status().message());
  Status s = model::WriteRandomCheckpoint(*checked, static_cast<uint64_t>(seed), out, dtype);
  if (!s.ok()) return Failure("model init-random", s.ToString());
  std::printf("wrote %s: %s, %.1fM parameters, %s\n", out.c_str(),
              model::ArchitectureName(checked->arch), checked->num_parameters() / 1e6,
              dtype.c_str());
  return kExitOk;
}

}  // namespace

int RunModel(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver model SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  verify       compare a checkpoint's logits with a reference file\n"
      "  init-random  write a checkpoint with random weights (benchmarks, tests)\n";
  if (args.empty()) return UsageError("model", "missing subcommand (verify)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "verify") return RunModelVerify({args.begin() + 1, args.end()});
  if (args[0] == "init-random") return RunModelInitRandom({args.begin() + 1, args.end()});
  return UsageError("model", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
