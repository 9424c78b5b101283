// Runs the schema grammar (runtime/structured/json_grammar.h) in kAccept mode as an
// accept / reject oracle over the official JSON Schema Test Suite (draft 2020-12 from
// shared/data, drafts 4, 6 and 7 from the Debian package json-schema-test-suite): every schema the
// grammar compiles must agree with the suite's "valid" on every test, for the compact text and a
// pretty-printed variant. Schemas that the schema compiler or the grammar reject as unsupported are
// counted and listed, never guessed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/json_schema/schema.h"
#include "runtime/structured/json_grammar.h"

namespace qs::structured {
namespace {

namespace fs = std::filesystem;
namespace js = qs::json_schema;

struct Summary {
  int files = 0;
  int supported_files = 0;  // files where every schema compiled
  int schemas = 0;
  int compiled = 0;
  int unsupported = 0;
  int tests = 0;
  int agreed = 0;
  int accepted_but_invalid = 0;
  int rejected_but_valid = 0;
  std::vector<std::string> notes;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool Accepts(const std::shared_ptr<const JsonGrammar>& grammar, const std::string& text) {
  JsonMatcher m(grammar);
  return m.AdvanceBytes(text) && m.IsComplete();
}

void RunFile(const fs::path& path, const std::string& label, bool assert_format, js::Draft draft,
             Summary* summary) {
  nlohmann::ordered_json groups = nlohmann::ordered_json::parse(ReadFile(path));
  ++summary->files;
  bool all_supported = true;
  int file_tests = 0, file_agreed = 0;
  for (const auto& group : groups) {
    ++summary->schemas;
    const std::string where = label + " \"" + group["description"].get<std::string>() + "\"";
    js::CompileOptions options;
    options.assert_format = assert_format;
    options.draft = draft;
    StatusOr<js::Schema> schema = js::Compile(group["schema"], options);
    StatusOr<std::shared_ptr<const JsonGrammar>> grammar =
        schema.ok() ? JsonGrammar::Compile(*schema, GrammarMode::kAccept)
                    : StatusOr<std::shared_ptr<const JsonGrammar>>(schema.status());
    if (!grammar.ok()) {
      all_supported = false;
      ++summary->unsupported;
      summary->notes.push_back("  unsupported: " + where + ": " + grammar.status().message());
      continue;
    }
    ++summary->compiled;
    for (const auto& test : group["tests"]) {
      const bool expected = test["valid"].get<bool>();
      const nlohmann::json data = nlohmann::json(test["data"]);
      for (const std::string& text : {data.dump(), data.dump(2)}) {
        ++summary->tests;
        ++file_tests;
        const bool accepted = Accepts(*grammar, text);
        if (accepted == expected) {
          ++summary->agreed;
          ++file_agreed;
          continue;
        }
        if (accepted) {
          ++summary->accepted_but_invalid;
        } else {
          ++summary->rejected_but_valid;
        }
        summary->notes.push_back("  DISAGREEMENT: " + where + " / \"" +
                                 test["description"].get<std::string>() + "\": suite says " +
                                 (expected ? "valid" : "invalid") + ", text " + text);
      }
    }
  }
  if (all_supported) ++summary->supported_files;
  std::printf("  %-40s %s tests %d agreed %d\n", label.c_str(),
              all_supported ? "supported  " : "partial    ", file_tests, file_agreed);
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

// Every file of a draft's folder (format as the draft's required tests treat it) and of its
// optional/format folder (format asserted).
void RunDraft(const fs::path& dir, const std::string& name, js::Draft draft,
              bool required_format_asserts) {
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " is not installed";
  Summary summary;
  for (const fs::path& file : JsonFiles(dir)) {
    RunFile(file, file.filename().string(), required_format_asserts, draft, &summary);
  }
  for (const fs::path& file : JsonFiles(dir / "optional" / "format")) {
    RunFile(file, "optional/format/" + file.filename().string(), true, draft, &summary);
  }
  for (const std::string& note : summary.notes) std::printf("%s\n", note.c_str());
  std::printf(
      "[grammar %s] files %d (fully supported %d), schemas %d: compiled %d, "
      "unsupported %d; tests %d (compact + pretty): agreed %d, accepted-but-invalid %d, "
      "rejected-but-valid %d\n",
      name.c_str(), summary.files, summary.supported_files, summary.schemas, summary.compiled,
      summary.unsupported, summary.tests, summary.agreed, summary.accepted_but_invalid,
      summary.rejected_but_valid);
  EXPECT_EQ(summary.accepted_but_invalid, 0);
  EXPECT_EQ(summary.rejected_but_valid, 0);
  EXPECT_GT(summary.compiled, 0);
}

const fs::path kDebianSuite = "/usr/share/json-schema-test-suite/tests";

// The required 2020-12 tests treat "format" as an annotation; optional/format asserts it.
TEST(JsonGrammarSuite, Draft2020_12Accept) {
  RunDraft(fs::path(QS_SHARED_DIR) / "data/json-schema-test-suite/tests/draft2020-12",
           "draft2020-12", js::Draft::kDraft2020_12, false);
}

// Drafts 4-7 (the Debian package json-schema-test-suite): their tests expect "format" to
// assert, as the validator's suite test runs them.
TEST(JsonGrammarSuite, Draft7Accept) {
  RunDraft(kDebianSuite / "draft7", "draft7", js::Draft::kDraft7, true);
}
TEST(JsonGrammarSuite, Draft6Accept) {
  RunDraft(kDebianSuite / "draft6", "draft6", js::Draft::kDraft6, true);
}
TEST(JsonGrammarSuite, Draft4Accept) {
  RunDraft(kDebianSuite / "draft4", "draft4", js::Draft::kDraft4, true);
}

}  // namespace
}  // namespace qs::structured
