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

struct DenoiseBenchOptions {
  std::string model_dir;  // a checkpoint, or empty for random weights of `random_config`
  ModelConfig random_config;
  std::string dtype = "float32";
  int64_t prompt_length = 64;
  int64_t gen_length = 192;
  int64_t steps = 96;
  int64_t block_length = 32;
  std::string sampler;  // llada or dream; empty: the model's own
  int repeats = 3;
};

struct DenoiseBenchResult {
  ModelConfig config;
  double forward_ms = 0;         // one forward pass over prompt + gen tokens (median of repeats)
  double step_ms = 0;            // one denoising step (forward + sampling), median run / steps
  double tokens_per_second = 0;  // gen_length / median run time
  int64_t steps = 0;
  int64_t model_calls = 0;
  std::string sampler;  // the sampler that ran
};

// Times the model forward and a full fixed-schedule generation (early stop off).
StatusOr<DenoiseBenchResult> BenchDenoise(const DenoiseBenchOptions& options);

// Writes a random-weight checkpoint (config.json + model.safetensors) for tests and
// benchmarks.
Status WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                             const std::string& dtype);

}  // namespace qs::model
