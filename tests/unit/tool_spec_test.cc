#include "tools/tool_spec.h"

#include <gtest/gtest.h>

namespace qs::tools {
namespace {

TEST(ToolSpec, ReadsTheOpenAiFunctionFormatAndTheBareForm) {
  const std::string text = R"([
    {"type": "function", "function": {"name": "get_weather", "description": "Weather now",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]}}},
    {"name": "list_orders"}
  ])";
  StatusOr<std::vector<ToolSpec>> tools = ParseToolList(text, "tools.json");
  ASSERT_TRUE(tools.ok()) << tools.status().ToString();
  ASSERT_EQ(tools->size(), 2u);
  EXPECT_EQ((*tools)[0].name, "get_weather");
  EXPECT_EQ((*tools)[0].description, "Weather now");
  EXPECT_EQ((*tools)[0].parameters["required"][0], "city");
  EXPECT_EQ((*tools)[1].name, "list_orders");
  EXPECT_EQ((*tools)[1].parameters["type"], "object");
}

TEST(ToolSpec, BadToolsAreRejectedWithWhereAndWhy) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"[1,", "tools.json: invalid JSON at byte"},
      {"{}", "expected a JSON array of tools"},
      {"[42]", "tools.json: [0]: a tool must be a JSON object"},
      {R"([{"description": "x"}])", "[0]: missing string field \"name\""},
      {R"([{"name": "has space"}])", "must be 1-64 characters"},
      {R"([{"name": "a"}, {"name": "a"}])", "[1]: duplicate tool name \"a\""},
      {R"([{"type": "retrieval"}])", "\"type\" must be \"function\""},
      {R"([{"type": "function"}])", "needs a \"function\" object"},
      {R"([{"name": "a", "parameters": []}])", "must be a JSON Schema object"},
      {R"([{"name": "a", "parameters": {"type": "string"}}])", "must describe an object"},
      {R"([{"name": "a", "description": 3}])", "must be a string"},
  };
  for (const Case& c : cases) {
    StatusOr<std::vector<ToolSpec>> r = ParseToolList(c.text, "tools.json");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.text << " -> " << r.status().message();
  }
}

}  // namespace
}  // namespace qs::tools
