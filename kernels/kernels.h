// Per-step work of a denoising step outside the transformer, on raw arrays.
// Each operation has a CPU reference; with QS_CUDA the same operation runs as a CUDA
// kernel (kernels/cuda/) and tests compare the two.
//
// Thread safety: free functions without shared state.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace qs::kernels {

// The model's choice at one canvas position.
struct TokenChoice {
  int32_t token = -1;    // argmax over allowed tokens; -1 when no token is allowed
  float prob = 0.0f;     // softmax probability of `token` (softmax over allowed tokens)
  float margin = 0.0f;   // top-1 minus top-2 probability (0 with one allowed token)
  float entropy = 0.0f;  // entropy (nats) of the softmax over allowed tokens
};

// Number of 32-bit words of a bitmask over `vocab` tokens (bit t of word t/32 = allowed).
inline int BitmaskWords(int vocab) { return (vocab + 31) / 32; }

// logits: [rows, vocab] row-major; bitmask: [rows, BitmaskWords(vocab)] or nullptr (all
// tokens allowed); out: [rows]. Ties go to the lowest token id (as torch.argmax).
void MaskedSoftmaxArgmaxReference(const float* logits, const uint32_t* bitmask, int rows, int vocab,
                                  TokenChoice* out);

// Which canvas positions a denoising step commits, per row (LLaDA's low-confidence
// remasking keeps the top k; Fast-dLLM's parallel decoding keeps every position above a
// confidence threshold, and at least the best one).
//   confidence: [rows, length]; eligible: [rows, length], nonzero where a position may be
//   committed (masked, inside the current block); k: [rows] (top-k mode) or nullptr with
//   threshold set (threshold mode); selected: [rows, length] out, 1 = commit.
// Top-k: the k eligible positions of highest confidence (all of them when fewer); ties go
// to the lower position. Threshold: every eligible position with confidence > threshold,
// or, when there is none, the single best eligible position. A row with no eligible
// position selects nothing.
void SelectPositionsReference(const float* confidence, const uint8_t* eligible, int rows,
                              int length, const int32_t* k, float threshold, uint8_t* selected);

// True when this build has the CUDA kernels (QS_CUDA=ON).
bool BuiltWithCuda();

#ifdef QS_HAVE_CUDA
// Same as the reference; all pointers are device pointers; runs on `stream`
// (a cudaStream_t, 0 = default stream) and synchronizes it before returning.
Status MaskedSoftmaxArgmaxCuda(const float* logits, const uint32_t* bitmask, int rows, int vocab,
                               TokenChoice* out, void* stream);
// Bytes of device memory in use on the current device (total minus free, as the driver
// reports them: every process and the caching allocator's reserve included).
StatusOr<int64_t> CudaMemoryInUse();

// Same as SelectPositionsReference on device pointers (length <= 8192); synchronizes
// `stream` before returning.
Status SelectPositionsCuda(const float* confidence, const uint8_t* eligible, int rows, int length,
                           const int32_t* k, float threshold, uint8_t* selected, void* stream);
#endif

}  // namespace qs::kernels
