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

// Sets LibTorch's intra-op threads once per process: QS_NUM_THREADS when set, else every
// hardware thread (Debian's LibTorch otherwise starts with one). Called by model loading.
void ConfigureThreadsOnce();

// One line, e.g. "LibTorch 1.13.0, CPU, 2 threads, BLAS openblas".
std::string DescribeBackend(const BackendInfo& info);

}  // namespace qs::model
