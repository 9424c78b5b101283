// `quicksilver model verify`: runs a checkpoint on the input_ids of a reference file
// (logits from Hugging Face transformers) and reports the largest absolute differences.
// Torch-free interface.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace qs::model {

struct VerifyOptions {
  double atol = 1e-4;
  std::string dtype = "float32";  // compute dtype: float32 or bfloat16
  std::string device = "cpu";     // cpu, cuda or cuda:N
};

struct VerifyComparison {
  std::string name;  // the expected tensor, e.g. "logits_bidirectional"
  double max_abs_diff = 0.0;
  bool passed = false;
};

struct VerifyReport {
  std::vector<VerifyComparison> comparisons;
  bool passed = false;
  std::string model_description;  // architecture, sizes, dtype
};

StatusOr<VerifyReport> VerifyModel(const std::string& model_dir, const std::string& expected_file,
                                   const VerifyOptions& options);

}  // namespace qs::model
