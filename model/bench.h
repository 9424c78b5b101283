// Measurements behind `quicksilver bench`: load time and memory, forward and denoising-step
// latency. Torch-free interface; figures are printed by the CLI with the machine.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/io/model_config.h"

namespace qs::model {

struct LoadBenchResult {
  double seconds = 0;
  int64_t weight_bytes_in_memory = 0;
  uint64_t checkpoint_bytes = 0;
  int64_t parameters = 0;
  int64_t peak_rss_bytes = 0;  // of this process so far (VmHWM)
};
StatusOr<LoadBenchResult> BenchLoad(const std::string& dir, const std::string& dtype);

// Peak resident set size of this process (VmHWM), in bytes; 0 when unknown.
int64_t PeakRssBytes();

// Writes a random-weight checkpoint (config.json + model.safetensors) for tests and
// benchmarks.
Status WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                             const std::string& dtype);

}  // namespace qs::model
