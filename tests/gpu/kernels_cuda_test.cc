// CUDA kernels against their CPU references (label gpu: needs a GPU to run).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <random>

#include "kernels/kernels.h"

namespace qs::kernels {
namespace {

template <typename T>
T* ToDevice(const std::vector<T>& host) {
  T* dev = nullptr;
  EXPECT_EQ(cudaMalloc(&dev, host.size() * sizeof(T)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(dev, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
            cudaSuccess);
  return dev;
}

TEST(MaskedSoftmaxArgmaxCuda, MatchesCpuReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 4.f);
  const int rows = 33, vocab = 151936;
  std::vector<float> logits(size_t(rows) * vocab);
  for (float& v : logits) v = normal(rng);
  std::vector<uint32_t> mask(size_t(rows) * BitmaskWords(vocab));
  for (auto& w : mask) w = rng();
  std::fill(mask.begin(), mask.begin() + BitmaskWords(vocab), 0u);  // row 0: nothing allowed
  std::vector<TokenChoice> want(rows), got(rows);
  MaskedSoftmaxArgmaxReference(logits.data(), mask.data(), rows, vocab, want.data());

  float* d_logits = ToDevice(logits);
  uint32_t* d_mask = ToDevice(mask);
  TokenChoice* d_out = nullptr;
  ASSERT_EQ(cudaMalloc(&d_out, rows * sizeof(TokenChoice)), cudaSuccess);
  Status s = MaskedSoftmaxArgmaxCuda(d_logits, d_mask, rows, vocab, d_out, nullptr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(cudaMemcpy(got.data(), d_out, rows * sizeof(TokenChoice), cudaMemcpyDeviceToHost),
            cudaSuccess);
  for (int r = 0; r < rows; ++r) {
    EXPECT_EQ(got[r].token, want[r].token) << "row " << r;
    EXPECT_NEAR(got[r].prob, want[r].prob, 1e-5) << "row " << r;
    EXPECT_NEAR(got[r].margin, want[r].margin, 1e-5) << "row " << r;
    EXPECT_NEAR(got[r].entropy, want[r].entropy, 1e-3) << "row " << r;
  }
  cudaFree(d_logits);
  cudaFree(d_mask);
  cudaFree(d_out);
}

}  // namespace
}  // namespace qs::kernels
