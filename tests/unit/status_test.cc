#include "base/status.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "base/files.h"

namespace qs {
namespace {

StatusOr<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgument("expected a positive number, got " + std::to_string(v));
  return v;
}

Status DoubleIt(int v, int* out) {
  QS_ASSIGN_OR_RETURN(int parsed, ParsePositive(v));
  *out = parsed * 2;
  return Status::Ok();
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFound("tool 'weather'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not found: tool 'weather'");
  EXPECT_EQ(s.WithContext("agent.yaml:3:5").message(), "agent.yaml:3:5: tool 'weather'");
}

TEST(Status, AssignOrReturnPropagatesTheFirstError) {
  int out = 0;
  EXPECT_TRUE(DoubleIt(4, &out).ok());
  EXPECT_EQ(out, 8);
  Status s = DoubleIt(-1, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "expected a positive number, got -1");
}

TEST(Files, ReadFileNamesTheMissingPath) {
  StatusOr<std::string> r = ReadFile("/nonexistent/quicksilver/file.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/quicksilver/file.txt"), std::string::npos);
}

TEST(Files, WriteAtomicallyThenReadBack) {
  const std::string path = std::string(QS_BINARY_DIR) + "/status_test_roundtrip.txt";
  ASSERT_TRUE(WriteFileAtomically(path, std::string("a\0b", 3)).ok());
  StatusOr<std::string> r = ReadFile(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::string("a\0b", 3));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace qs
