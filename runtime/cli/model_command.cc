// quicksilver model verify: compare a checkpoint's outputs with reference logits.
#include <cstdio>

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
  if (Status s = flags.Parse(args); !s.ok()) return UsageError("model verify", s.message());
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return kExitOk;
  }
  if (!flags.positional().empty()) {
    return UsageError("model verify", "unexpected argument '" + flags.positional()[0] + "'");
  }
  model::VerifyOptions options;
  options.atol = atol;
  options.dtype = dtype;
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

}  // namespace

int RunModel(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver model SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  verify    compare a checkpoint's logits with a reference file\n";
  if (args.empty()) return UsageError("model", "missing subcommand (verify)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "verify") return RunModelVerify({args.begin() + 1, args.end()});
  return UsageError("model", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
