// What the LibTorch backend of this build is: printed by `quicksilver --version` and by
// every benchmark, so figures always come with the machine they were measured on.
// Torch-free interface; LibTorch stays inside model/.
#pragma once

#include <string>

namespace qs::model {

struct BackendInfo {
  std::string libtorch_version;  // e.g. "1.13.0"
  bool cuda_available = false;
  int cuda_devices = 0;
  int intra_op_threads = 0;
  std::string blas;  // "openblas", "mkl" or "reference"
};

BackendInfo GetBackendInfo();

// Sets LibTorch's intra-op threads once per process: QS_NUM_THREADS when set, else 1.
// Matrix products run in OpenBLAS, which has its own thread pool over every core; a
// second (OpenMP) pool on the same cores makes both spin against each other: measured
// 3.8x slower for a 50M model on 2 cores (docs/PERFORMANCE.md). Called by model loading.
void ConfigureThreadsOnce();

// One line, e.g. "LibTorch 1.13.0, CPU, 2 threads, BLAS openblas".
std::string DescribeBackend(const BackendInfo& info);

}  // namespace qs::model
