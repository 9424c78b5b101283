#include "model/verify.h"

#include "model/io/safetensors.h"
#include "model/torch_util.h"
#include "model/transformer.h"

namespace qs::model {

StatusOr<VerifyReport> VerifyModel(const std::string& model_dir, const std::string& expected_file,
                                   const VerifyOptions& options) {
  QS_ASSIGN_OR_RETURN(at::ScalarType dtype, ParseComputeDtype(options.dtype));
  LoadOptions load;
  load.compute_dtype = dtype;
  QS_ASSIGN_OR_RETURN(load.device, ParseDevice(options.device));
  QS_ASSIGN_OR_RETURN(std::unique_ptr<Transformer> model, Transformer::Load(model_dir, load));
  QS_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> expected,
                      SafetensorsFile::Open(expected_file));
  QS_ASSIGN_OR_RETURN(at::Tensor ids, ReadTensor(*expected, "input_ids"));
  if (ids.dim() != 2) return InvalidArgument(expected_file + ": input_ids must be [batch, length]");
  const ModelConfig& c = model->config();
  if (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= c.vocab_size) {
    return InvalidArgument(expected_file + ": input_ids outside the vocabulary of " +
                           std::to_string(c.vocab_size));
  }

  VerifyReport report;
  report.model_description =
      std::string(ArchitectureName(c.arch)) + ", " + std::to_string(c.num_layers) +
      " layers, hidden " + std::to_string(c.hidden_size) + ", vocab " +
      std::to_string(c.vocab_size) + ", compute " + options.dtype + " on " + options.device;
  report.passed = true;
  auto compare = [&](const std::string& name, const at::Tensor& got) -> Status {
    QS_ASSIGN_OR_RETURN(at::Tensor want, ReadTensor(*expected, name));
    if (want.sizes() != got.sizes()) {
      return InvalidArgument(expected_file + ": " + name + " has shape " + c10::str(want.sizes()) +
                             ", the model produced " + c10::str(got.sizes()));
    }
    VerifyComparison cmp;
    cmp.name = name;
    cmp.max_abs_diff =
        (got.to(at::kCPU).to(at::kDouble) - want.to(at::kDouble)).abs().max().item<double>();
    cmp.passed = cmp.max_abs_diff <= options.atol;
    report.passed = report.passed && cmp.passed;
    report.comparisons.push_back(cmp);
    return Status::Ok();
  };
  try {
    for (bool causal : {false, true}) {
      const std::string suffix = causal ? "causal" : "bidirectional";
      if (expected->Find("logits_" + suffix) == nullptr) continue;
      ForwardOptions fo;
      fo.causal = causal;
      fo.want_hidden = true;
      ForwardOutput out = model->Forward(ids, fo);
      QS_RETURN_IF_ERROR(compare("logits_" + suffix, out.logits));
      for (size_t k = 0; k < out.hidden.size(); ++k) {
        const std::string name = "hidden_" + suffix + "." + std::to_string(k);
        if (expected->Find(name) != nullptr) QS_RETURN_IF_ERROR(compare(name, out.hidden[k]));
      }
    }
  } catch (const c10::Error& e) {
    return Internal("LibTorch failed while running the model: " +
                    std::string(e.what_without_backtrace()));
  }
  if (report.comparisons.empty()) {
    return InvalidArgument(expected_file + ": no logits_bidirectional or logits_causal to compare");
  }
  return report;
}

}  // namespace qs::model
