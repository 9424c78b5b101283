#include "model/torch_util.h"

#include <cstring>

namespace qs::model {

at::ScalarType ToScalarType(DType d) {
  switch (d) {
    case DType::kF32:
      return at::kFloat;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kF16:
      return at::kHalf;
    case DType::kF64:
      return at::kDouble;
    case DType::kI64:
      return at::kLong;
    case DType::kI32:
      return at::kInt;
    case DType::kI16:
      return at::kShort;
    case DType::kI8:
      return at::kChar;
    case DType::kU8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

StatusOr<at::Tensor> ReadTensor(const SafetensorsFile& file, const std::string& name) {
  const TensorInfo* info = file.Find(name);
  if (info == nullptr) return NotFound(file.path() + ": no tensor named " + name);
  at::Tensor t = at::empty(info->shape, at::TensorOptions().dtype(ToScalarType(info->dtype)));
  std::memcpy(t.data_ptr(), file.Data(*info), info->end - info->begin);
  return t;
}

StatusOr<at::ScalarType> ParseComputeDtype(const std::string& text) {
  if (text == "float32" || text == "fp32") return at::kFloat;
  if (text == "bfloat16" || text == "bf16") return at::kBFloat16;
  if (text == "float16" || text == "fp16") return at::kHalf;
  return InvalidArgument("unknown dtype \"" + text + "\" (use float32, bfloat16 or float16)");
}

StatusOr<at::Device> ParseDevice(const std::string& text) {
  if (text == "cpu") return at::Device(at::kCPU);
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    if (!at::hasCUDA()) {
      return Unsupported("device \"" + text +
                         "\": this LibTorch has no CUDA support or no GPU is visible (use cpu)");
    }
    try {
      return at::Device(text);
    } catch (const c10::Error& e) {
      return InvalidArgument("device \"" + text + "\": " + e.what_without_backtrace());
    }
  }
  return InvalidArgument("unknown device \"" + text + "\" (use cpu, cuda or cuda:N)");
}

}  // namespace qs::model
