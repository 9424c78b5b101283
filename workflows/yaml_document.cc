#include "workflows/yaml_document.h"

#include "base/files.h"

namespace qs::workflows {

namespace {
std::string Location(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}
}  // namespace

StatusOr<YamlDocument> ParseYaml(const std::string& text, const std::string& path) {
  YamlDocument doc;
  doc.path = path;
  try {
    doc.root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(Location(path, e.mark) + ": invalid YAML: " + e.msg);
  }
  if (!doc.root.IsDefined() || doc.root.IsNull()) {
    return InvalidArgument(path + ": the file is empty (expected a YAML mapping)");
  }
  return doc;
}

StatusOr<YamlDocument> LoadYamlFile(const std::string& path) {
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseYaml(text, path);
}

std::string Where(const YamlDocument& doc, const YAML::Node& node) {
  return Location(doc.path, node.Mark());
}

}  // namespace qs::workflows
