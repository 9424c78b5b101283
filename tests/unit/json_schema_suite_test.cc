// Runs the validator over the official JSON Schema Test Suite
// (https://github.com/json-schema-org/JSON-Schema-Test-Suite): draft 2020-12 from
// shared/data, drafts 4, 6 and 7 from the Debian package json-schema-test-suite when it is
// installed. Every schema that compiles (without ignore options) must agree with the
// suite's "valid" on every test; schemas that fail to compile as unsupported are counted
// and listed, never guessed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"

namespace qs::json_schema {
namespace {

namespace fs = std::filesystem;

// Optional test files that assume behaviour this library deliberately does not have:
// draft 7's content.json asserts contentMediaType / contentEncoding, which are annotations
// here (as from 2019-09 on). Every other optional file runs.
const char* const kOptionalExcluded[] = {"content.json"};

struct Summary {
  int files = 0;
  int schemas = 0;
  int compiled = 0;
  int unsupported = 0;
  int compile_errors = 0;  // InvalidArgument on a suite schema: always a bug here
  int tests = 0;
  int agreed = 0;
  int disagreements = 0;
  int accepted_but_invalid = 0;
  std::vector<std::string> notes;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void RunFile(const fs::path& path, const std::string& label, Draft draft, bool assert_format,
             Summary* summary) {
  nlohmann::ordered_json groups = nlohmann::ordered_json::parse(ReadFile(path));
  ++summary->files;
  for (const auto& group : groups) {
    ++summary->schemas;
    const std::string where = label + " \"" + group["description"].get<std::string>() + "\"";
    CompileOptions options;
    options.draft = draft;
    options.assert_format = assert_format;
    StatusOr<Schema> schema = Compile(group["schema"], options);
    if (!schema.ok()) {
      if (schema.status().code() == StatusCode::kUnsupported) {
        ++summary->unsupported;
        summary->notes.push_back("  unsupported: " + where + ": " + schema.status().message());
      } else {
        ++summary->compile_errors;
        summary->notes.push_back("  COMPILE ERROR: " + where + ": " + schema.status().ToString());
      }
      continue;
    }
    ++summary->compiled;
    for (const auto& test : group["tests"]) {
      ++summary->tests;
      const bool expected = test["valid"].get<bool>();
      std::optional<Violation> violation = FindViolation(*schema, nlohmann::json(test["data"]));
      if (expected == !violation.has_value()) {
        ++summary->agreed;
        continue;
      }
      ++summary->disagreements;
      std::string note = "  DISAGREEMENT: " + where + " / \"" +
                         test["description"].get<std::string>() + "\": suite says " +
                         (expected ? "valid" : "invalid") + ", data " + test["data"].dump();
      if (violation) {
        note += ", validator: " + violation->ToString();
      } else {
        ++summary->accepted_but_invalid;
      }
      summary->notes.push_back(note);
    }
  }
}

std::vector<fs::path> JsonFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Runs one draft directory: the required tests, then the optional ones (format tests are a
// directory from draft 7 on, one optional/format.json before).
void RunDraft(const fs::path& dir, const std::string& name, Draft draft) {
  if (!fs::is_directory(dir)) {
    std::printf("[%s] skipped: %s is not installed\n", name.c_str(), dir.c_str());
    GTEST_SKIP() << dir << " is not installed";
  }
  Summary summary;
  // From 2019-09 on the required tests expect "format" to be an annotation; the optional
  // format tests (and every test of the older drafts) expect it to assert.
  const bool annotation_format = draft >= Draft::kDraft2019_09;
  for (const fs::path& file : JsonFiles(dir)) {
    RunFile(file, file.filename().string(), draft, !annotation_format, &summary);
  }
  std::vector<fs::path> optional = JsonFiles(dir / "optional" / "format");
  for (const fs::path& file : JsonFiles(dir / "optional")) {
    bool excluded = false;
    for (const char* name : kOptionalExcluded) excluded = excluded || file.filename() == name;
    if (!excluded) optional.push_back(file);
  }
  for (const fs::path& file : optional) {
    RunFile(file, fs::relative(file, dir).string(), draft, true, &summary);
  }
  for (const std::string& note : summary.notes) std::printf("%s\n", note.c_str());
  std::printf(
      "[%s] files %d, schemas %d: compiled %d, unsupported %d, compile errors %d; tests %d: "
      "agreed %d, disagreements %d, accepted-but-invalid %d\n",
      name.c_str(), summary.files, summary.schemas, summary.compiled, summary.unsupported,
      summary.compile_errors, summary.tests, summary.agreed, summary.disagreements,
      summary.accepted_but_invalid);
  EXPECT_EQ(summary.disagreements, 0);
  EXPECT_EQ(summary.accepted_but_invalid, 0);
  EXPECT_EQ(summary.compile_errors, 0);
  EXPECT_GT(summary.compiled, 0);
}

const fs::path kDebianSuite = "/usr/share/json-schema-test-suite/tests";

TEST(JsonSchemaSuite, Draft2020_12) {
  RunDraft(fs::path(QS_SHARED_DIR) / "data/json-schema-test-suite/tests/draft2020-12",
           "draft2020-12", Draft::kDraft2020_12);
}

TEST(JsonSchemaSuite, Draft7) { RunDraft(kDebianSuite / "draft7", "draft7", Draft::kDraft7); }

TEST(JsonSchemaSuite, Draft6) { RunDraft(kDebianSuite / "draft6", "draft6", Draft::kDraft6); }

TEST(JsonSchemaSuite, Draft4) { RunDraft(kDebianSuite / "draft4", "draft4", Draft::kDraft4); }

}  // namespace
}  // namespace qs::json_schema
