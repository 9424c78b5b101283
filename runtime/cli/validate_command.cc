// quicksilver validate: check workflow files without running them. Every problem is
// printed as FILE:LINE:COLUMN: error: MESSAGE (hint: ...), so editors can jump to it.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/cli/command.h"
#include "runtime/flags.h"
#include "runtime/json_schema/schema.h"
#include "workflows/workflow_spec.h"

namespace qs::cli {

int RunValidate(const std::vector<std::string>& args) {
  bool json_output = false;
  FlagSet flags("validate",
                "Check workflow files (docs/WORKFLOWS.md) and print every problem with its\n"
                "file:line:column. Exit 0 when all are valid, 1 when any is not.",
                "FILE.yaml...");
  flags.Bool("json", &json_output,
             "Print the problems as a JSON array of {file, line, column, message, hint}");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (flags.positional().empty()) return UsageError("validate", "missing FILE.yaml");

  // Every schema in the file (tool parameters, output schemas, llm schemas) must compile
  // for the constrained decoder: unsupported keywords are reported here, before a run.
  const workflows::WorkflowOptions options = CliWorkflowOptions();
  bool all_valid = true;
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& path : flags.positional()) {
    const workflows::WorkflowValidation v = workflows::ValidateWorkflowFile(path, options);
    all_valid = all_valid && v.spec.has_value();
    if (json_output) {
      for (const workflows::Diagnostic& d : v.diagnostics) all.push_back(d.ToJson());
      continue;
    }
    if (v.spec) {
      const size_t nodes = v.spec->nodes.size(), tools = v.spec->tools.size();
      std::printf("%s: ok (%zu node%s, %zu tool%s)\n", path.c_str(), nodes, nodes == 1 ? "" : "s",
                  tools, tools == 1 ? "" : "s");
      continue;
    }
    for (const workflows::Diagnostic& d : v.diagnostics) {
      std::fprintf(stderr, "%s\n", d.ToString().c_str());
    }
    std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), v.diagnostics.size(),
                 v.diagnostics.size() == 1 ? "" : "s");
  }
  // JSON mode prints only the array, so that it can be piped into other tools.
  if (json_output) std::printf("%s\n", all.dump(2).c_str());
  return all_valid ? kExitOk : kExitFailure;
}

workflows::WorkflowOptions CliWorkflowOptions() {
  workflows::WorkflowOptions options;
  options.check_schema = [](const nlohmann::json& schema) -> std::string {
    StatusOr<json_schema::Schema> compiled = json_schema::Compile(schema);
    return compiled.ok() ? "" : compiled.status().message();
  };
  return options;
}

}  // namespace qs::cli
