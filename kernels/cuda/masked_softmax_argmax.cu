// CUDA version of MaskedSoftmaxArgmaxReference: one thread block per row, one pass for
// the top-2 logits and one for the partition function; block reductions in shared memory.
#include <cuda_runtime.h>

#include <cfloat>
#include <string>

#include "kernels/kernels.h"

namespace qs::kernels {

namespace {

constexpr int kThreads = 256;

struct Top2 {
  float v1;
  int t1;
  float v2;
};

__device__ bool AllowedToken(const uint32_t* mask, int t) {
  return mask == nullptr || ((mask[t >> 5] >> (t & 31)) & 1u) != 0;
}

// Merges b into a: keeps the two largest values; ties on v1 go to the lower token id.
__device__ Top2 Merge(Top2 a, Top2 b) {
  Top2 r;
  bool a_first = (a.t1 >= 0) && (b.t1 < 0 || a.v1 > b.v1 || (a.v1 == b.v1 && a.t1 < b.t1));
  Top2 hi = a_first ? a : b;
  Top2 lo = a_first ? b : a;
  r.v1 = hi.v1;
  r.t1 = hi.t1;
  r.v2 = fmaxf(hi.v2, lo.t1 >= 0 ? lo.v1 : -FLT_MAX);
  return r;
}

__global__ void MaskedSoftmaxArgmaxKernel(const float* logits, const uint32_t* bitmask, int vocab,
                                          int words, TokenChoice* out) {
  const int row = blockIdx.x;
  const float* x = logits + static_cast<long long>(row) * vocab;
  const uint32_t* mask = bitmask ? bitmask + static_cast<long long>(row) * words : nullptr;
  __shared__ Top2 top[kThreads];
  __shared__ float zs[kThreads];
  __shared__ float ws[kThreads];

  Top2 local{-FLT_MAX, -1, -FLT_MAX};
  for (int t = threadIdx.x; t < vocab; t += blockDim.x) {
    if (!AllowedToken(mask, t)) continue;
    Top2 one{x[t], t, -FLT_MAX};
    local = Merge(local, one);
  }
  top[threadIdx.x] = local;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) top[threadIdx.x] = Merge(top[threadIdx.x], top[threadIdx.x + s]);
    __syncthreads();
  }
  const Top2 best = top[0];
  if (best.t1 < 0) {
    if (threadIdx.x == 0) out[row] = TokenChoice{-1, 0.f, 0.f, 0.f};
    return;
  }
  float z = 0.f, w = 0.f;
  for (int t = threadIdx.x; t < vocab; t += blockDim.x) {
    if (!AllowedToken(mask, t)) continue;
    const float shifted = x[t] - best.v1;
    const float e = __expf(shifted);
    z += e;
    w += e * shifted;
  }
  zs[threadIdx.x] = z;
  ws[threadIdx.x] = w;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      zs[threadIdx.x] += zs[threadIdx.x + s];
      ws[threadIdx.x] += ws[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    const float total = zs[0];
    const float p1 = 1.f / total;
    const float p2 = best.v2 == -FLT_MAX ? 0.f : __expf(best.v2 - best.v1) / total;
    out[row] = TokenChoice{best.t1, p1, p1 - p2, logf(total) - ws[0] / total};
  }
}

}  // namespace

bool BuiltWithCuda() { return true; }

Status MaskedSoftmaxArgmaxCuda(const float* logits, const uint32_t* bitmask, int rows, int vocab,
                               TokenChoice* out, void* stream) {
  if (rows < 0 || vocab <= 0) return InvalidArgument("MaskedSoftmaxArgmaxCuda: bad shape");
  if (rows == 0) return Status::Ok();
  auto s = static_cast<cudaStream_t>(stream);
  MaskedSoftmaxArgmaxKernel<<<rows, kThreads, 0, s>>>(logits, bitmask, vocab, BitmaskWords(vocab),
                                                      out);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);
  if (err != cudaSuccess) {
    return Internal(std::string("MaskedSoftmaxArgmaxCuda: ") + cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace qs::kernels
