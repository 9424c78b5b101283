// Small file helpers that report failures as Status values naming the path.
#pragma once

#include <string>

#include "base/status.h"

namespace qs {

// Reads a whole file; NotFound / InvalidArgument with the path and errno text.
StatusOr<std::string> ReadFile(const std::string& path);

// Writes via a temporary file + rename, so a crash never leaves a half-written file.
Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace qs
