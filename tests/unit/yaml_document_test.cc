#include "workflows/yaml_document.h"

#include <gtest/gtest.h>

namespace qs::workflows {
namespace {

TEST(YamlDocument, ErrorsCarryFileLineAndColumn) {
  // Line 3, column 8: the unclosed flow sequence.
  StatusOr<YamlDocument> r = ParseYaml("name: demo\nnodes:\n  a: [1, 2\n", "agent.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("agent.yaml:", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find("invalid YAML"), std::string::npos);
}

TEST(YamlDocument, TabIndentationIsAnError) {
  StatusOr<YamlDocument> r = ParseYaml("a:\n\t- b\n", "tabs.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tabs.yaml:2:"), std::string::npos) << r.status().message();
}

TEST(YamlDocument, NodesKnowWhereTheyAre) {
  StatusOr<YamlDocument> r = ParseYaml("name: demo\nnodes:\n  - type: agent\n", "g.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Where(*r, r->root["nodes"][0]["type"]), "g.yaml:3:11");
  EXPECT_EQ(Where(*r, r->root["name"]), "g.yaml:1:7");
}

TEST(YamlDocument, EmptyAndMissingFiles) {
  EXPECT_NE(ParseYaml("", "e.yaml").status().message().find("e.yaml: the file is empty"),
            std::string::npos);
  StatusOr<YamlDocument> missing = LoadYamlFile("/nonexistent/agent.yaml");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qs::workflows
