// The subcommands of the quicksilver executable. Each one declares its flags in a
// FlagSet and returns an exit code: 0 success, 1 failure (message printed), 2 usage error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/flags.h"
#include "workflows/workflow_spec.h"

namespace qs::agent {
class DiffusionAgentModel;
}

namespace qs::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// All subcommands, in the order `quicksilver --help` lists them.
const std::vector<Command>& AllCommands();

// Prints "quicksilver CMD: MESSAGE" and the hint to stderr; returns kExitUsage.
int UsageError(const std::string& command, const std::string& message);
// Prints "quicksilver CMD: error: MESSAGE" to stderr; returns kExitFailure.
int Failure(const std::string& command, const std::string& message);

// Parses a command's flags. Returns -1 to go on, or the exit code to return at once: 0
// after printing --help, kExitUsage after a usage error (printed with the hint).
int ParseFlags(FlagSet& flags, const std::vector<std::string>& args);

// The model of agent and llm nodes (run, resume, eval): a checkpoint folder; "builtin"
// ($QS_BUILTIN_MODEL, else models/builtin of the source tree), or "random" with a tokenizer
// folder (random weights, for tests). Defined in run_command.cc.
StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> LoadCliAgentModel(
    const std::string& path, const std::string& tokenizer_dir, int64_t seed);

// Workflow loading options for the CLI: every JSON Schema in the file is compiled, so an
// invalid or unsupported schema is reported before a run. Defined in validate_command.cc.
workflows::WorkflowOptions CliWorkflowOptions();

// Benchmarks print this line first: hardware threads and the LibTorch backend.
void PrintMachine();
// `bench constraint` (bench_constraint_command.cc), dispatched by RunBench.
int RunBenchConstraint(const std::vector<std::string>& args);

// Subcommand entry points (one file each).
int RunInfo(const std::vector<std::string>& args);
int RunTokenize(const std::vector<std::string>& args);
int RunModel(const std::vector<std::string>& args);
int RunBench(const std::vector<std::string>& args);
int RunGenerate(const std::vector<std::string>& args);
int RunRun(const std::vector<std::string>& args);
int RunResume(const std::vector<std::string>& args);
int RunSchema(const std::vector<std::string>& args);
int RunValidate(const std::vector<std::string>& args);
int RunTrain(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);

}  // namespace qs::cli
