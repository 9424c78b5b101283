// CUDA version of SelectPositionsReference: one thread block per row. The row's confidence
// and eligibility go to shared memory; each thread ranks its positions against the whole
// row (rank = eligible positions with higher confidence, or equal and earlier), which
// gives exactly the reference's top-k with its tie rule. Canvases are a few hundred to a
// few thousand positions, so the quadratic rank (in shared memory) is cheaper than a sort.
#include <cuda_runtime.h>

#include <string>

#include "kernels/kernels.h"

namespace qs::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int kMaxLength = 8192;

__global__ void SelectPositionsKernel(const float* confidence, const uint8_t* eligible, int length,
                                      const int32_t* k, float threshold, uint8_t* selected) {
  const int row = blockIdx.x;
  const float* c = confidence + static_cast<long long>(row) * length;
  const uint8_t* e = eligible + static_cast<long long>(row) * length;
  uint8_t* out = selected + static_cast<long long>(row) * length;
  __shared__ float conf[kMaxLength];
  __shared__ uint8_t elig[kMaxLength];
  __shared__ int any_above;
  if (threadIdx.x == 0) any_above = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < length; i += blockDim.x) {
    conf[i] = c[i];
    elig[i] = e[i];
    if (k == nullptr && e[i] && c[i] > threshold) any_above = 1;  // benign race: all write 1
  }
  __syncthreads();
  for (int i = threadIdx.x; i < length; i += blockDim.x) {
    bool pick = false;
    if (elig[i]) {
      if (k == nullptr && any_above) {
        pick = conf[i] > threshold;
      } else {
        const float mine = conf[i];
        int ahead = 0;
        for (int j = 0; j < length; ++j) {
          ahead += (elig[j] && (conf[j] > mine || (conf[j] == mine && j < i))) ? 1 : 0;
        }
        pick = k != nullptr ? ahead < k[row] : ahead == 0;
      }
    }
    out[i] = pick ? 1 : 0;
  }
}

}  // namespace

Status SelectPositionsCuda(const float* confidence, const uint8_t* eligible, int rows, int length,
                           const int32_t* k, float threshold, uint8_t* selected, void* stream) {
  if (rows < 0 || length < 0 || length > kMaxLength) {
    return InvalidArgument("SelectPositionsCuda: " + std::to_string(length) +
                           " positions per row (at most " + std::to_string(kMaxLength) + ")");
  }
  if (rows == 0 || length == 0) return Status::Ok();
  auto s = static_cast<cudaStream_t>(stream);
  SelectPositionsKernel<<<rows, kThreads, 0, s>>>(confidence, eligible, length, k, threshold,
                                                  selected);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);
  if (err != cudaSuccess) {
    return Internal(std::string("SelectPositionsCuda: ") + cudaGetErrorString(err));
  }
  return Status::Ok();
}

StatusOr<int64_t> CudaMemoryInUse() {
  size_t free_bytes = 0, total_bytes = 0;
  cudaError_t err = cudaMemGetInfo(&free_bytes, &total_bytes);
  if (err != cudaSuccess)
    return Internal(std::string("cudaMemGetInfo: ") + cudaGetErrorString(err));
  return static_cast<int64_t>(total_bytes - free_bytes);
}

}  // namespace qs::kernels
