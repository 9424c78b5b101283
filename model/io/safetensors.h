// Reading the safetensors format (https://github.com/huggingface/safetensors, format spec):
// 8 bytes little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data buffer. Files are memory-mapped; nothing is copied until asked.
// Torch-free: model/ turns these views into tensors.
//
// Thread safety: a SafetensorsFile is immutable after Open and may be read from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace qs::model {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ... as written in safetensors headers.
const char* DTypeName(DType dtype);
size_t DTypeSize(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer
  uint64_t end = 0;
  int64_t numel() const;
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data buffer starts in the file (8 + N)
};

// Parses and checks the header of a safetensors image of `file_size` bytes whose first
// bytes are `data` (at least the header). Every problem names the file (`path`) and the
// tensor: header length beyond the file, bad JSON, unknown dtype, offsets out of range or
// overlapping, byte size not matching dtype x shape.
StatusOr<SafetensorsHeader> ParseSafetensorsHeader(const uint8_t* data, uint64_t size,
                                                   const std::string& path);

// A memory-mapped safetensors file.
class SafetensorsFile {
 public:
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  // nullptr when absent.
  const TensorInfo* Find(const std::string& name) const;
  // Start of a tensor's bytes (not aligned: copy before reading as floats).
  const uint8_t* Data(const TensorInfo& info) const;
  // Tells the kernel that a tensor's pages are no longer needed (after copying it), so
  // resident memory stays near one copy of the weights while loading.
  void Release(const TensorInfo& info) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  uint8_t* map_ = nullptr;
  uint64_t size_ = 0;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
};

// Writes tensors to a safetensors file (used by training, test helpers and fixtures).
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;  // numel * DTypeSize(dtype) bytes
};
Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {});

// A checkpoint folder: model.safetensors, or shards listed in model.safetensors.index.json.
class CheckpointFiles {
 public:
  static StatusOr<CheckpointFiles> Open(const std::string& dir);
  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  // All tensors, by name.
  const std::map<std::string, Entry>& tensors() const { return tensors_; }
  const Entry* Find(const std::string& name) const;
  uint64_t total_bytes() const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, Entry> tensors_;
};

}  // namespace qs::model
