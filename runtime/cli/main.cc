// quicksilver: the command-line entry point. Dispatches to subcommands; usage errors exit
// 2 with a one-line hint, failures exit 1 with a message that says what and where.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "runtime/cli/command.h"

#ifndef QS_VERSION
#define QS_VERSION "0.0.0"
#endif

namespace qs::cli {

int UsageError(const std::string& command, const std::string& message) {
  const std::string prefix = command.empty() ? "quicksilver" : "quicksilver " + command;
  std::fprintf(stderr, "%s: %s (see '%s --help')\n", prefix.c_str(), message.c_str(),
               prefix.c_str());
  return kExitUsage;
}

int Failure(const std::string& command, const std::string& message) {
  std::fprintf(stderr, "quicksilver %s: error: %s\n", command.c_str(), message.c_str());
  return kExitFailure;
}

int ParseFlags(FlagSet& flags, const std::vector<std::string>& args) {
  if (Status s = flags.Parse(args); !s.ok()) return UsageError(flags.command(), s.message());
  if (flags.help_requested()) {
    std::printf("%s", flags.Help().c_str());
    return kExitOk;
  }
  return -1;
}

const std::vector<Command>& AllCommands() {
  static const std::vector<Command> commands = {
      {"info", "Print the build: version, LibTorch, CUDA, threads and BLAS", RunInfo},
      {"tokenize", "Text to token ids and back with a checkpoint's tokenizer.json", RunTokenize},
      {"model", "Model checks: 'model verify' compares logits with a reference", RunModel},
      {"generate", "Denoise an answer to a prompt with a LLaDA / Dream checkpoint", RunGenerate},
      {"bench", "Benchmarks that print figures: 'bench load', 'bench denoise'", RunBench},
      {"train", "Train a small LLaDA-layout model on a prompt/response corpus", RunTrain},
      {"run", "Run a workflow file (agents, tools, routers, maps; checkpointed)", RunRun},
      {"resume", "Continue a paused, failed or killed run from its last checkpoint", RunResume},
      {"schema", "JSON Schema constraints: 'schema check' replays a document", RunSchema},
      {"validate", "Check workflow files; every problem with file:line:column", RunValidate},
      {"eval", "Score a model on held-out agent tasks (tool choice, arguments, answers)", RunEval},
  };
  return commands;
}

namespace {

void PrintHelp() {
  std::printf(
      "quicksilver %s: tool-using agents on an in-process diffusion language model\n\n"
      "usage: quicksilver COMMAND [flags] [args]\n\ncommands:\n",
      QS_VERSION);
  for (const Command& c : AllCommands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf(
      "\nglobal flags:\n  --help       show this help (or 'quicksilver COMMAND --help')\n"
      "  --version    print the version\n");
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintHelp();
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintHelp();
    return kExitOk;
  }
  if (first == "--version") {
    std::printf("quicksilver %s\n", QS_VERSION);
    return kExitOk;
  }
  for (const Command& c : AllCommands()) {
    if (first == c.name) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  if (!first.empty() && first[0] == '-') return UsageError("", "unknown flag " + first);
  return UsageError("", "unknown command '" + first + "'");
}

}  // namespace
}  // namespace qs::cli

int main(int argc, char** argv) {
  try {
    return qs::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    // Expected failures return Status values; reaching here is a bug, but the user still
    // gets a message instead of an abort.
    std::fprintf(stderr, "quicksilver: internal error: %s\n", e.what());
    return qs::cli::kExitFailure;
  }
}
