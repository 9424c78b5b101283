// Measurements behind `quicksilver bench`: load time and memory, forward and denoising-step
// latency. Torch-free interface; figures are printed by the CLI with the machine.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/io/model_config.h"
#include "model/sampler_config.h"

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
  // The generations timed, side by side in one run: KV cache modes (sampler_config.h).
  std::vector<KvCache> kv_caches = {KvCache::kNone};
  // Each mode also timed with the LM head over every position (GenerateOptions::full_lm_head).
  bool compare_full_lm_head = false;
};

struct DenoiseBenchResult {
  ModelConfig config;
  double forward_ms = 0;         // one forward pass over prompt + gen tokens (median of repeats)
  double step_ms = 0;            // one denoising step (forward + sampling), median run / steps
  double tokens_per_second = 0;  // gen_length / median run time
  int64_t steps = 0;
  int64_t model_calls = 0;
  std::string sampler;  // the sampler that ran
  // One entry per options.kv_caches, in order (step_ms / tokens_per_second above are the
  // first one's).
  struct CacheRun {
    KvCache cache = KvCache::kNone;
    bool full_lm_head = false;
    double step_ms = 0;
    double tokens_per_second = 0;
    // Answer tokens equal to the first mode's answer, position by position (1 = the same
    // text; the cache is approximate).
    double agreement = 1.0;
  };
  std::vector<CacheRun> cache_runs;
};

// Times the model forward and a full fixed-schedule generation (early stop off).
StatusOr<DenoiseBenchResult> BenchDenoise(const DenoiseBenchOptions& options);

// LLaDA-8B's shape (hidden 4096, 32 layers, 32 heads, SwiGLU 12288, vocabulary 126,464).
ModelConfig LladaEightBShape();

struct GpuBenchOptions {
  ModelConfig config = LladaEightBShape();  // random weights of this shape, made on device
  std::string device = "cuda";
  std::string dtype = "bfloat16";
  int repeats = 2;
  std::vector<KvCache> kv_caches = {KvCache::kNone, KvCache::kPrefix, KvCache::kDual};
};

struct GpuBenchResult {
  double forward_ms_320 = 0;   // batch 1, 320 tokens (median of repeats)
  double forward_ms_1088 = 0;  // batch 1, 1088 tokens
  // LLaDA's fixed schedule: 64-token prompt, gen 256, block 32, low-confidence remasking.
  struct Schedule {
    KvCache cache = KvCache::kNone;
    int64_t steps = 0;
    double seconds = 0;  // median of repeats
    double step_ms = 0;
    double tokens_per_second = 0;
  };
  std::vector<Schedule> schedules;  // each cache with 256, then 64 steps
  int64_t peak_device_bytes = -1;   // max device memory in use seen; -1 unknown (no CUDA)
};

// The GPU benchmark of issue 7 (also runs on the CPU with a small config for a smoke test).
StatusOr<GpuBenchResult> BenchGpu(const GpuBenchOptions& options);

// Writes a random-weight checkpoint (config.json + model.safetensors) for tests and
// benchmarks.
Status WriteRandomCheckpoint(const ModelConfig& config, uint64_t seed, const std::string& dir,
                             const std::string& dtype);

}  // namespace qs::model
