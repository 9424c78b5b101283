#include <cstdio>
#include <fstream>
#include <thread>

#include "kernels/kernels.h"
#include "model/backend.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

namespace {
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}
}  // namespace

int RunInfo(const std::vector<std::string>& args) {
  FlagSet flags("info", "Print the build and the machine: version, LibTorch, CUDA, BLAS.");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (!flags.positional().empty()) {
    return UsageError("info", "unexpected argument '" + flags.positional()[0] + "'");
  }
  std::printf("quicksilver %s\n", QS_VERSION);
  std::printf("backend: %s\n", model::DescribeBackend(model::GetBackendInfo()).c_str());
  std::printf("cuda kernels: %s\n", kernels::BuiltWithCuda() ? "built" : "not built (QS_CUDA=OFF)");
  std::printf("machine: %s, %u hardware threads\n", CpuModel().c_str(),
              std::thread::hardware_concurrency());
  return kExitOk;
}

}  // namespace qs::cli
