// Loading YAML with positions: every error names file:line:column (1-based) so a user
// can jump to it. The workflow format (issue 5) builds on this.
//
// Thread safety: immutable after loading.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "base/status.h"

namespace qs::workflows {

struct YamlDocument {
  std::string path;  // as given, used in messages
  YAML::Node root;
};

// Parses text; `path` is only used in messages.
StatusOr<YamlDocument> ParseYaml(const std::string& text, const std::string& path);
StatusOr<YamlDocument> LoadYamlFile(const std::string& path);

// "path:line:column" of a node (1-based), or just "path" when the node has no mark.
std::string Where(const YamlDocument& doc, const YAML::Node& node);

}  // namespace qs::workflows
