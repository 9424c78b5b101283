#include "model/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/files.h"

namespace qs::model {

namespace {

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

// A header larger than this is certainly not a real checkpoint (the format caps it at 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

}  // namespace

const char* DTypeName(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StatusOr<SafetensorsHeader> ParseSafetensorsHeader(const uint8_t* data, uint64_t size,
                                                   const std::string& path) {
  if (size < 8) {
    return InvalidArgument(path + ": truncated safetensors file (" + std::to_string(size) +
                           " bytes; the 8-byte header length is missing)");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  if (n > kMaxHeaderBytes || n > size - 8) {
    return InvalidArgument(path + ": header length " + std::to_string(n) +
                           " exceeds the file size " + std::to_string(size) +
                           " (truncated or not a safetensors file)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(path + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) return InvalidArgument(path + ": header is not a JSON object");
  SafetensorsHeader result;
  result.data_offset = 8 + n;
  const uint64_t buffer_size = size - result.data_offset;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return InvalidArgument(path + ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return InvalidArgument(path + ": __metadata__." + m.key() + " is not a string");
        }
        result.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor " + name;
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets")) {
      return InvalidArgument(where + ": needs dtype, shape and data_offsets");
    }
    TensorInfo info;
    info.name = name;
    if (!v["dtype"].is_string()) return InvalidArgument(where + ": dtype is not a string");
    const std::string dtype = v["dtype"].get<std::string>();
    const DTypeEntry* entry = nullptr;
    for (const auto& e : kDTypes) {
      if (dtype == e.name) entry = &e;
    }
    if (entry == nullptr) return Unsupported(where + ": unknown dtype " + dtype);
    info.dtype = entry->dtype;
    if (!v["shape"].is_array()) return InvalidArgument(where + ": shape is not an array");
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) {
        return InvalidArgument(where + ": shape has a non-integer or negative dimension");
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim) {
        return InvalidArgument(where + ": shape is too large");
      }
      numel *= dim;
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& offsets = v["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      return InvalidArgument(where + ": data_offsets must be two non-negative integers");
    }
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();
    if (info.begin > info.end || info.end > buffer_size) {
      return InvalidArgument(where + ": data_offsets [" + std::to_string(info.begin) + ", " +
                             std::to_string(info.end) + "] out of range of the " +
                             std::to_string(buffer_size) + "-byte data buffer (truncated file?)");
    }
    if (info.end - info.begin != numel * entry->size) {
      return InvalidArgument(where + ": " + std::to_string(info.end - info.begin) + " bytes, but " +
                             dtype + " x " + std::to_string(numel) + " elements needs " +
                             std::to_string(numel * entry->size));
    }
    result.tensors.push_back(std::move(info));
  }
  std::sort(result.tensors.begin(), result.tensors.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < result.tensors.size(); ++i) {
    const TensorInfo& prev = result.tensors[i - 1];
    const TensorInfo& cur = result.tensors[i];
    if (cur.begin < prev.end && cur.end > cur.begin && prev.end > prev.begin) {
      return InvalidArgument(path + ": tensors " + prev.name + " and " + cur.name +
                             " overlap in the data buffer");
    }
  }
  return result;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    if (errno == ENOENT) return NotFound(path + ": " + why);
    return InvalidArgument(path + ": cannot open: " + why);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return InvalidArgument(path + ": cannot stat: " + std::strerror(errno));
  }
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      return InvalidArgument(path + ": cannot mmap: " + std::strerror(errno));
    }
    file->map_ = static_cast<uint8_t*>(map);
  }
  ::close(fd);
  QS_ASSIGN_OR_RETURN(file->header_, ParseSafetensorsHeader(file->map_, file->size_, path));
  for (size_t i = 0; i < file->header_.tensors.size(); ++i) {
    file->index_[file->header_.tensors[i].name] = i;
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

const TensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

const uint8_t* SafetensorsFile::Data(const TensorInfo& info) const {
  return map_ + header_.data_offset + info.begin;
}

void SafetensorsFile::Release(const TensorInfo& info) const {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // Only whole pages inside the tensor: neighbours may still be needed.
  uint64_t begin = header_.data_offset + info.begin;
  uint64_t end = header_.data_offset + info.end;
  begin = (begin + page - 1) / page * page;
  end = end / page * page;
  if (end > begin) ::madvise(map_ + begin, end - begin, MADV_DONTNEED);
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    const uint64_t bytes = static_cast<uint64_t>(numel) * DTypeSize(t.dtype);
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');  // keep the data 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgument("cannot write " + tmp + ": " + std::strerror(errno));
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const TensorToWrite& t : tensors) {
      int64_t numel = 1;
      for (int64_t d : t.shape) numel *= d;
      out.write(static_cast<const char*>(t.data),
                static_cast<std::streamsize>(numel * DTypeSize(t.dtype)));
    }
    out.flush();
    if (!out) return InvalidArgument("error while writing " + tmp + " (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return InvalidArgument("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

StatusOr<CheckpointFiles> CheckpointFiles::Open(const std::string& dir) {
  CheckpointFiles ckpt;
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  StatusOr<std::string> index_text = ReadFile(index_path);
  if (index_text.ok()) {
    nlohmann::json index;
    try {
      index = nlohmann::json::parse(*index_text);
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument(index_path + ": not valid JSON: " + e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return InvalidArgument(index_path + ": needs a \"weight_map\" object");
    }
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) {
        return InvalidArgument(index_path + ": weight_map." + it.key() + " is not a file name");
      }
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard.empty() || shard[0] == '.') {
        return InvalidArgument(index_path + ": weight_map." + it.key() + ": shard name \"" + shard +
                               "\" must be a plain file name in the folder");
      }
      weight_map[it.key()] = shard;
      if (std::find(shard_names.begin(), shard_names.end(), shard) == shard_names.end()) {
        shard_names.push_back(shard);
      }
    }
  } else if (index_text.status().code() == StatusCode::kNotFound) {
    shard_names.push_back("model.safetensors");
  } else {
    return index_text.status();
  }
  for (const std::string& shard : shard_names) {
    StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(dir + "/" + shard);
    if (!file.ok()) {
      if (file.status().code() == StatusCode::kNotFound && weight_map.empty()) {
        return NotFound(dir + ": no model.safetensors or model.safetensors.index.json");
      }
      return file.status();
    }
    std::shared_ptr<SafetensorsFile> shared = std::move(file).value();
    for (const TensorInfo& info : shared->tensors()) {
      if (!weight_map.empty()) {
        auto it = weight_map.find(info.name);
        if (it == weight_map.end() || it->second != shard) {
          return InvalidArgument(shared->path() + ": tensor " + info.name +
                                 " is not listed for this shard in model.safetensors.index.json");
        }
      }
      if (!ckpt.tensors_.emplace(info.name, Entry{shared.get(), &info}).second) {
        return InvalidArgument(shared->path() + ": tensor " + info.name +
                               " appears in more than one shard");
      }
    }
    ckpt.files_.push_back(std::move(shared));
  }
  for (const auto& [name, shard] : weight_map) {
    if (ckpt.tensors_.count(name) == 0) {
      return InvalidArgument(
          dir + "/" + shard + ": tensor " + name +
          " is listed in model.safetensors.index.json but missing from the shard");
    }
  }
  return ckpt;
}

const CheckpointFiles::Entry* CheckpointFiles::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

uint64_t CheckpointFiles::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, e] : tensors_) total += e.info->end - e.info->begin;
  return total;
}

}  // namespace qs::model
