#include "model/bench.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>

#include "base/files.h"
#include "model/io/safetensors.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {

int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return 0;
}

StatusOr<LoadBenchResult> BenchLoad(const std::string& dir, const std::string& dtype) {
  QS_ASSIGN_OR_RETURN(at::ScalarType compute, ParseComputeDtype(dtype));
  LoadOptions options;
  options.compute_dtype = compute;
  LoadBenchResult r;
  {
    QS_ASSIGN_OR_RETURN(CheckpointFiles files, CheckpointFiles::Open(dir));
    r.checkpoint_bytes = files.total_bytes();
  }
  const auto start = std::chrono::steady_clock::now();
  QS_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, Transformer::Load(dir, options));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.weight_bytes_in_memory = model->weight_bytes();
  r.parameters = model->config().num_parameters();
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

Status WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                             const std::string& dtype) {
  QS_ASSIGN_OR_RETURN(at::ScalarType stored, ParseComputeDtype(dtype));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return InvalidArgument("cannot create " + dir + ": " + std::strerror(errno));
  }
  LoadOptions options;
  options.compute_dtype = stored;
  std::unique_ptr<Transformer> model = Transformer::Random(config, seed, options);
  QS_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", ModelConfigToJson(config)));
  return model->Save(dir);
}

}  // namespace qs::model
