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

TEST(SelectPositionsCuda, MatchesCpuReference) {
  std::mt19937 rng(13);
  const int rows = 9, length = 1088;
  std::vector<float> confidence(size_t(rows) * length);
  std::vector<uint8_t> eligible(size_t(rows) * length);
  for (size_t i = 0; i < confidence.size(); ++i) {
    confidence[i] = static_cast<float>(rng() % 50) / 50.f;  // many ties
    eligible[i] = (i / length != 2) && rng() % 4 != 0;      // row 2: nothing eligible
  }
  std::vector<int32_t> k = {1, 2, 4, 8, 16, 32, 64, 0, 5000};
  float* d_conf = ToDevice(confidence);
  uint8_t* d_elig = ToDevice(eligible);
  int32_t* d_k = ToDevice(k);
  uint8_t* d_out = nullptr;
  ASSERT_EQ(cudaMalloc(&d_out, confidence.size()), cudaSuccess);
  std::vector<uint8_t> want(confidence.size()), got(confidence.size());
  for (int mode = 0; mode < 3; ++mode) {
    const int32_t* kk = mode == 0 ? k.data() : nullptr;
    const float threshold = mode == 1 ? 0.9f : 5.f;  // 5: nothing above, the best alone
    SelectPositionsReference(confidence.data(), eligible.data(), rows, length, kk, threshold,
                             want.data());
    Status s = SelectPositionsCuda(d_conf, d_elig, rows, length, mode == 0 ? d_k : nullptr,
                                   threshold, d_out, nullptr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(cudaMemcpy(got.data(), d_out, got.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(got, want) << "mode " << mode;
  }
  cudaFree(d_conf);
  cudaFree(d_elig);
  cudaFree(d_k);
  cudaFree(d_out);
}

}  // namespace
}  // namespace qs::kernels
