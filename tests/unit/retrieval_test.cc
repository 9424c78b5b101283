// The retrieve tool over a real SQLite FTS5 file: chunking with line ranges, BM25 ranking,
// citations, incremental re-indexing, and hostile queries.
#include "tools/retrieval.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace qs::tools {
namespace {

namespace fs = std::filesystem;

class RetrievalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(QS_BINARY_DIR) /
            ("retrieval_test_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "docs" / "policies");
    Write("docs/returns.md",
          "# Returns\n\nItems can be returned within 30 days of delivery.\n"
          "Refunds go back to the original payment method.\n\n"
          "# Damaged items\n\nDamaged items are replaced free of charge.\n");
    Write("docs/policies/shipping.txt",
          "Standard shipping takes 3 to 5 business days.\n\nExpress shipping arrives the next "
          "day.\n");
    Write("docs/ignored.json", "{\"returns\": \"not a document\"}");
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel) << text;
  }
  std::string Docs() const { return (root_ / "docs").string(); }
  std::string Db() const { return (root_ / "index.sqlite").string(); }
  fs::path root_;
};

TEST(ChunkText, SplitsAtHeadingsAndKeepsLineRanges) {
  std::vector<RetrievedChunk> chunks =
      ChunkText("a.md", "# One\n\nfirst para\nline two\n\n# Two\nsecond\n", ChunkingOptions{});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].start_line, 1);
  EXPECT_EQ(chunks[0].end_line, 4);
  EXPECT_EQ(chunks[0].text, "# One\n\nfirst para\nline two");
  EXPECT_EQ(chunks[1].Citation(), "a.md:6-7");
  // Long paragraphs split at blank lines once max_chars is reached.
  std::string long_text;
  for (int i = 0; i < 10; ++i) long_text += std::string(50, 'a' + i) + "\n\n";
  EXPECT_EQ(ChunkText("b.txt", long_text, ChunkingOptions{100, 2000}).size(), 5u);
}

TEST(JoinSoftLineBreaks, JoinsWrappedParagraphsAndKeepsBlocks) {
  EXPECT_EQ(JoinSoftLineBreaks("# Title\n\nOrders leave the same\nday; later ones\n  the next.\n"),
            "# Title\n\nOrders leave the same day; later ones the next.\n");
  EXPECT_EQ(JoinSoftLineBreaks("| a | b |\n| --- | --- |\n| 1 | 2 |\nAfter the table."),
            "| a | b |\n| --- | --- |\n| 1 | 2 |\nAfter the table.");
  EXPECT_EQ(
      JoinSoftLineBreaks("1. Open the page\n   and click.\n2. Print.\n- item\n* other\n> quote"),
      "1. Open the page and click.\n2. Print.\n- item\n* other\n> quote");
  EXPECT_EQ(JoinSoftLineBreaks("one\n\n\ntwo"), "one\n\n\ntwo");
  EXPECT_EQ(JoinSoftLineBreaks(""), "");
}

TEST_F(RetrievalTest, FindsTheRightPassageWithItsCitation) {
  auto index = DocumentIndex::Open(Db());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  StatusOr<IndexStats> stats = (*index)->IndexFolder(Docs());
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->files_indexed, 2);  // the .json file is not a document
  EXPECT_EQ(stats->chunks, 3);         // returns.md: one per heading; shipping.txt: one

  auto hits = (*index)->Search("how many days do I have to return an item?", 3);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].Citation(), "returns.md:1-4");
  EXPECT_NE((*hits)[0].text.find("30 days"), std::string::npos);

  auto ship = (*index)->Search("express shipping", 1);
  ASSERT_EQ(ship->size(), 1u);
  EXPECT_EQ((*ship)[0].Citation(), "policies/shipping.txt:1-3");

  StatusOr<nlohmann::json> tool = RunRetrieveTool(**index, {{"query", "damaged"}, {"k", 1}});
  ASSERT_TRUE(tool.ok());
  EXPECT_EQ((*tool)["results"][0]["citation"], "returns.md:6-8");
  EXPECT_EQ((*tool)["results"][0].size(), 3u);  // citation, text, score
  EXPECT_EQ((*tool)["results"][0]["text"],
            "# Damaged items\n\nDamaged items are replaced free of charge.");
  StatusOr<nlohmann::json> days = RunRetrieveTool(**index, {{"query", "30 days"}, {"k", 1}});
  ASSERT_TRUE(days.ok());
  EXPECT_EQ((*days)["results"][0]["text"],  // the wrapped paragraph reads as one line
            "# Returns\n\nItems can be returned within 30 days of delivery. Refunds go back to the "
            "original payment method.");
  EXPECT_FALSE(RunRetrieveTool(**index, {{"query", "x"}, {"k", 99}}).ok());
}

TEST_F(RetrievalTest, ReindexesOnlyWhatChangedAndSurvivesReopening) {
  {
    auto index = DocumentIndex::Open(Db());
    ASSERT_TRUE((*index)->IndexFolder(Docs()).ok());
  }
  auto index = DocumentIndex::Open(Db());  // the same file, reopened
  ASSERT_TRUE(index.ok());
  StatusOr<IndexStats> again = (*index)->IndexFolder(Docs());
  EXPECT_EQ(again->files_indexed, 0);
  EXPECT_EQ(again->files_unchanged, 2);

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write("docs/policies/shipping.txt", "Pickup from the warehouse is free.\n");
  fs::remove(root_ / "docs" / "returns.md");
  StatusOr<IndexStats> changed = (*index)->IndexFolder(Docs());
  EXPECT_EQ(changed->files_indexed, 1);
  EXPECT_EQ(changed->files_removed, 1);
  EXPECT_EQ(changed->chunks, 1);
  EXPECT_TRUE((*index)->Search("refunds returned", 3)->empty());
  EXPECT_EQ((*(*index)->Search("warehouse pickup", 3)).size(), 1u);
}

TEST_F(RetrievalTest, HostileAndEmptyQueriesAreHarmless) {
  auto index = DocumentIndex::Open(Db());
  ASSERT_TRUE((*index)->IndexFolder(Docs()).ok());
  for (const char* q : {"", "   ", "\"", "NEAR(returns", "returns*", "- OR AND", "text:returns",
                        "'); DROP TABLE chunks; --", "\xff\xfe"}) {
    auto hits = (*index)->Search(q, 3);
    EXPECT_TRUE(hits.ok()) << q << ": " << hits.status().ToString();
  }
  EXPECT_EQ((*(*index)->Search("returns", 5)).size(), 1u);  // the table is still there
}

TEST_F(RetrievalTest, MissingFolderAndUnwritableDatabase) {
  auto index = DocumentIndex::Open(Db());
  StatusOr<IndexStats> r = (*index)->IndexFolder((root_ / "nope").string());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos);
  auto bad = DocumentIndex::Open("/nonexistent/dir/index.sqlite");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/nonexistent/dir/index.sqlite"), std::string::npos);
}

}  // namespace
}  // namespace qs::tools
