// The CPU reference of the masked softmax/argmax kernel against a direct computation:
// build the allowed list, sort it, and compute softmax, margin and entropy from it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "kernels/kernels.h"

namespace qs::kernels {
namespace {

TokenChoice Direct(const std::vector<float>& x, const std::vector<bool>& allowed) {
  std::vector<std::pair<float, int>> items;
  for (size_t t = 0; t < x.size(); ++t) {
    if (allowed[t]) items.push_back({x[t], static_cast<int>(t)});
  }
  TokenChoice c;
  if (items.empty()) return c;
  std::stable_sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first > b.first; });
  double z = 0;
  for (auto& it : items) z += std::exp(double(it.first));
  double h = 0;
  for (auto& it : items) {
    double p = std::exp(double(it.first)) / z;
    h -= p * std::log(p);
  }
  c.token = items[0].second;
  c.prob = float(std::exp(double(items[0].first)) / z);
  c.margin = items.size() > 1 ? c.prob - float(std::exp(double(items[1].first)) / z) : c.prob;
  c.entropy = float(h);
  return c;
}

TEST(MaskedSoftmaxArgmaxReference, MatchesDirectComputationOnRandomRows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 3.f);
  const int rows = 5, vocab = 1000;
  std::vector<float> logits(rows * vocab);
  for (float& v : logits) v = normal(rng);
  std::vector<uint32_t> mask(rows * BitmaskWords(vocab), 0);
  std::vector<std::vector<bool>> allowed(rows, std::vector<bool>(vocab, false));
  for (int r = 0; r < rows; ++r) {
    for (int t = 0; t < vocab; ++t) {
      // Row 0: everything; row 3: a single token; row 4: nothing.
      bool ok = r == 0 || (r == 3 ? t == 517 : r != 4 && rng() % 3 == 0);
      if (ok) {
        allowed[r][t] = true;
        mask[r * BitmaskWords(vocab) + t / 32] |= 1u << (t % 32);
      }
    }
  }
  std::vector<TokenChoice> got(rows);
  MaskedSoftmaxArgmaxReference(logits.data(), mask.data(), rows, vocab, got.data());
  for (int r = 0; r < rows; ++r) {
    std::vector<float> row(logits.begin() + r * vocab, logits.begin() + (r + 1) * vocab);
    TokenChoice want = Direct(row, allowed[r]);
    EXPECT_EQ(got[r].token, want.token) << "row " << r;
    EXPECT_NEAR(got[r].prob, want.prob, 1e-6) << "row " << r;
    EXPECT_NEAR(got[r].margin, want.margin, 1e-6) << "row " << r;
    EXPECT_NEAR(got[r].entropy, want.entropy, 1e-5) << "row " << r;
  }
  EXPECT_EQ(got[3].token, 517);
  EXPECT_FLOAT_EQ(got[3].prob, 1.f);
  EXPECT_EQ(got[4].token, -1);

  // No bitmask means every token is allowed: same as row 0.
  TokenChoice unmasked;
  MaskedSoftmaxArgmaxReference(logits.data(), nullptr, 1, vocab, &unmasked);
  EXPECT_EQ(unmasked.token, got[0].token);
  EXPECT_FLOAT_EQ(unmasked.prob, got[0].prob);
}

TEST(MaskedSoftmaxArgmaxReference, TiesGoToTheLowestTokenLikeTorchArgmax) {
  std::vector<float> logits = {1.f, 5.f, 5.f, 2.f};
  TokenChoice c;
  MaskedSoftmaxArgmaxReference(logits.data(), nullptr, 1, 4, &c);
  EXPECT_EQ(c.token, 1);
  EXPECT_NEAR(c.margin, 0.f, 1e-7);
}

// Position selection against a direct computation: sort the eligible positions by
// (confidence desc, position asc) and take the first k, or those above the threshold.
std::vector<uint8_t> DirectSelect(const std::vector<float>& c, const std::vector<uint8_t>& e, int k,
                                  float threshold, bool top_k) {
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(c.size()); ++i) {
    if (e[i]) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return c[a] > c[b]; });
  std::vector<uint8_t> out(c.size(), 0);
  if (top_k) {
    for (int n = 0; n < k && n < static_cast<int>(order.size()); ++n) out[order[n]] = 1;
    return out;
  }
  for (int i : order) {
    if (c[i] > threshold) out[i] = 1;
  }
  if (std::count(out.begin(), out.end(), 1) == 0 && !order.empty()) out[order[0]] = 1;
  return out;
}

TEST(SelectPositionsReference, TopKAndThresholdMatchASortedSelection) {
  std::mt19937 rng(5);
  const int rows = 6, length = 300;
  std::vector<float> confidence(rows * length);
  std::vector<uint8_t> eligible(rows * length);
  for (int i = 0; i < rows * length; ++i) {
    // Few distinct values, so ties are common; row 4 has nothing eligible.
    confidence[i] = static_cast<float>(rng() % 20) / 20.f;
    eligible[i] = (i / length != 4) && rng() % 3 != 0;
  }
  const std::vector<int32_t> k = {1, 5, 32, 0, 3, 1000};
  std::vector<uint8_t> got(rows * length);
  SelectPositionsReference(confidence.data(), eligible.data(), rows, length, k.data(), 0.f,
                           got.data());
  for (int r = 0; r < rows; ++r) {
    std::vector<float> c(confidence.begin() + r * length, confidence.begin() + (r + 1) * length);
    std::vector<uint8_t> e(eligible.begin() + r * length, eligible.begin() + (r + 1) * length);
    std::vector<uint8_t> g(got.begin() + r * length, got.begin() + (r + 1) * length);
    EXPECT_EQ(g, DirectSelect(c, e, k[r], 0.f, true)) << "top-k row " << r;
  }
  for (float threshold : {0.5f, 0.9f, 2.f}) {  // 2: nothing above, the best one alone
    SelectPositionsReference(confidence.data(), eligible.data(), rows, length, nullptr, threshold,
                             got.data());
    for (int r = 0; r < rows; ++r) {
      std::vector<float> c(confidence.begin() + r * length, confidence.begin() + (r + 1) * length);
      std::vector<uint8_t> e(eligible.begin() + r * length, eligible.begin() + (r + 1) * length);
      std::vector<uint8_t> g(got.begin() + r * length, got.begin() + (r + 1) * length);
      EXPECT_EQ(g, DirectSelect(c, e, 0, threshold, false))
          << "threshold " << threshold << " row " << r;
      if (r != 4) {
        EXPECT_GE(std::count(g.begin(), g.end(), 1), 1);
      }
    }
  }
}

}  // namespace
}  // namespace qs::kernels
