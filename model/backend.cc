#include "model/backend.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

namespace qs::model {

namespace {
// Debian's LibTorch links the generic libblas.so.3, which update-alternatives points at
// OpenBLAS or the slow reference BLAS: look at what this process really mapped.
std::string LoadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool generic = false;
  while (std::getline(maps, line)) {
    if (line.find("openblas") != std::string::npos) return "openblas";
    if (line.find("libmkl") != std::string::npos) return "mkl";
    if (line.find("libblas") != std::string::npos) generic = true;
  }
  return generic ? "reference (install libopenblas-dev: ~10x faster matmul)" : "built-in";
}
}  // namespace

void ConfigureThreadsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    int threads = 1;
    if (const char* env = std::getenv("QS_NUM_THREADS")) threads = std::atoi(env);
    if (threads > 0) at::set_num_threads(threads);
  });
}

BackendInfo GetBackendInfo() {
  ConfigureThreadsOnce();
  BackendInfo info;
  info.libtorch_version = TORCH_VERSION;
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.intra_op_threads = at::get_num_threads();
  info.blas = LoadedBlas();
  return info;
}

std::string DescribeBackend(const BackendInfo& info) {
  std::string s = "LibTorch " + info.libtorch_version + ", ";
  s += info.cuda_available ? "CUDA (" + std::to_string(info.cuda_devices) + " devices)" : "CPU";
  s += ", " + std::to_string(info.intra_op_threads) + " threads, BLAS " + info.blas;
  return s;
}

}  // namespace qs::model
