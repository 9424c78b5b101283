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

// True when this build has the CUDA kernels (QS_CUDA=ON).
bool BuiltWithCuda();

#ifdef QS_HAVE_CUDA
// Same as the reference; all pointers are device pointers; runs on `stream`
// (a cudaStream_t, 0 = default stream) and synchronizes it before returning.
Status MaskedSoftmaxArgmaxCuda(const float* logits, const uint32_t* bitmask, int rows, int vocab,
                               TokenChoice* out, void* stream);
#endif

}  // namespace qs::kernels
