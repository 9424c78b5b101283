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
  if (Status s = flags.Parse(args); !s.ok()) return UsageError("bench load", s.message());
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return kExitOk;
  }
  PrintMachine();
  StatusOr<model::LoadBenchResult> r = model::BenchLoad(model_dir, dtype);
  if (!r.ok()) return Failure("bench load", r.status().ToString());
  std::printf("loaded %s: %.1fM parameters, checkpoint %.1f MB, in memory %.1f MB (%s)\n",
              model_dir.c_str(), r->parameters / 1e6, r->checkpoint_bytes / 1e6,
              r->weight_bytes_in_memory / 1e6, dtype.c_str());
  std::printf("load time %.2f s; peak RSS %.1f MB = %.3f x weights in memory\n", r->seconds,
              r->peak_rss_bytes / 1e6,
              static_cast<double>(r->peak_rss_bytes) / static_cast<double>(r->weight_bytes_in_memory));
  return kExitOk;
}

}  // namespace

int RunBench(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver bench SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  load      load time and peak memory of a checkpoint\n";
  if (args.empty()) return UsageError("bench", "missing subcommand (load)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "load") return RunBenchLoad({args.begin() + 1, args.end()});
  return UsageError("bench", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
