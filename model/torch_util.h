// Helpers between model/io (torch-free) and LibTorch. Used inside model/ only.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "base/status.h"
#include "model/io/safetensors.h"

namespace qs::model {

at::ScalarType ToScalarType(DType dtype);

// Copies one tensor of a safetensors file into a new CPU tensor of its stored dtype.
StatusOr<at::Tensor> ReadTensor(const SafetensorsFile& file, const std::string& name);

// Parses "float32" / "fp32" / "bfloat16" / "bf16" / "float16" / "fp16".
StatusOr<at::ScalarType> ParseComputeDtype(const std::string& text);

// Parses "cpu" / "cuda" / "cuda:N"; a CUDA device needs a LibTorch built with CUDA and a GPU.
StatusOr<at::Device> ParseDevice(const std::string& text);

}  // namespace qs::model
