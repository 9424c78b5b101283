#include "base/files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qs {

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::string why = std::strerror(errno);
    if (errno == ENOENT) return NotFound("cannot open " + path + ": " + why);
    return InvalidArgument("cannot open " + path + ": " + why);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return InvalidArgument("error while reading " + path);
  return buffer.str();
}

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidArgument("cannot write " + tmp + ": " + std::strerror(errno));
    out << contents;
    out.flush();
    if (!out) return InvalidArgument("error while writing " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return InvalidArgument("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace qs
