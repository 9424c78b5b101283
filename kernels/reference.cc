#include <cmath>
#include <limits>

#include "kernels/kernels.h"

namespace qs::kernels {

namespace {
bool Allowed(const uint32_t* row_mask, int token) {
  return row_mask == nullptr || ((row_mask[token >> 5] >> (token & 31)) & 1u) != 0;
}
}  // namespace

void MaskedSoftmaxArgmaxReference(const float* logits, const uint32_t* bitmask, int rows, int vocab,
                                  TokenChoice* out) {
  const int words = BitmaskWords(vocab);
  for (int r = 0; r < rows; ++r) {
    const float* x = logits + static_cast<int64_t>(r) * vocab;
    const uint32_t* mask = bitmask ? bitmask + static_cast<int64_t>(r) * words : nullptr;
    // Pass 1: top-1 and top-2 logits among allowed tokens.
    float best = -std::numeric_limits<float>::infinity();
    float second = -std::numeric_limits<float>::infinity();
    int best_token = -1;
    for (int t = 0; t < vocab; ++t) {
      if (!Allowed(mask, t)) continue;
      if (best_token < 0 || x[t] > best) {
        second = best;
        best = x[t];
        best_token = t;
      } else if (x[t] > second) {
        second = x[t];
      }
    }
    TokenChoice choice;
    if (best_token >= 0) {
      // Pass 2: partition function and sum p * (x - max), in double for a stable reference.
      double z = 0.0, weighted = 0.0;
      for (int t = 0; t < vocab; ++t) {
        if (!Allowed(mask, t)) continue;
        const double shifted = static_cast<double>(x[t]) - best;
        const double e = std::exp(shifted);
        z += e;
        weighted += e * shifted;
      }
      choice.token = best_token;
      choice.prob = static_cast<float>(1.0 / z);
      const double p2 = std::isinf(second) ? 0.0 : std::exp(static_cast<double>(second) - best) / z;
      choice.margin = static_cast<float>(1.0 / z - p2);
      choice.entropy = static_cast<float>(std::log(z) - weighted / z);
    }
    out[r] = choice;
  }
}

void SelectPositionsReference(const float* confidence, const uint8_t* eligible, int rows,
                              int length, const int32_t* k, float threshold, uint8_t* selected) {
  for (int r = 0; r < rows; ++r) {
    const float* c = confidence + static_cast<int64_t>(r) * length;
    const uint8_t* e = eligible + static_cast<int64_t>(r) * length;
    uint8_t* out = selected + static_cast<int64_t>(r) * length;
    // rank(i): eligible positions ahead of i (higher confidence, or equal and earlier).
    auto rank = [&](int i) {
      int ahead = 0;
      for (int j = 0; j < length; ++j) {
        if (e[j] && (c[j] > c[i] || (c[j] == c[i] && j < i))) ++ahead;
      }
      return ahead;
    };
    bool any_above = false;
    if (k == nullptr) {
      for (int i = 0; i < length; ++i) any_above = any_above || (e[i] && c[i] > threshold);
    }
    for (int i = 0; i < length; ++i) {
      bool pick = false;
      if (e[i]) {
        if (k != nullptr) {
          pick = rank(i) < k[r];
        } else {
          pick = any_above ? c[i] > threshold : rank(i) == 0;
        }
      }
      out[i] = pick ? 1 : 0;
    }
  }
}

#ifndef QS_HAVE_CUDA
bool BuiltWithCuda() { return false; }
#endif

}  // namespace qs::kernels
