// The retrieve tool over a real SQLite FTS5 file: chunking with line ranges, BM25 ranking,
// citations, incremental re-indexing, and hostile queries.
#include "tools/retrieval.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
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

TEST(ChunkText, SentenceChunksAreSentencesRowsAndItemsWithTheirLines) {
  const std::string text =
      "# Shipping\n\nOrders leave the same\nday. Later ones leave\nthe next day!\n\n"
      "| destination | carrier |\n| --- | :-: |\n| Germany | DHL |\n| EU | UPS\n\n"
      "- Free returns\n  for 30 days.\n";
  ChunkingOptions options;
  options.sentences = true;
  std::vector<RetrievedChunk> chunks = ChunkText("s.md", text, options);
  std::vector<std::string> got;
  for (const RetrievedChunk& c : chunks) got.push_back(c.Citation() + " " + c.text);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "s.md:3-4 Orders leave the same day.",
                     "s.md:4-5 Later ones leave the next day!",
                     "s.md:9-9 destination: Germany; carrier: DHL",
                     "s.md:10-10 destination: EU; carrier: UPS",
                     "s.md:12-13 - Free returns for 30 days.",
                 }));
}

TEST_F(RetrievalTest, ExampleQuestionsFindPassagesWordedOtherwise) {
  Write("questions.json",
        R"({"passages": [{"file": "returns.md", "text": "Damaged items are replaced",
            "questions": ["My grinder came smashed, what now?"]}]})");
  StatusOr<std::vector<PassageQuestions>> questions =
      LoadPassageQuestions((root_ / "questions.json").string());
  ASSERT_TRUE(questions.ok()) << questions.status().ToString();
  auto index = DocumentIndex::Open(Db());
  ASSERT_TRUE(index.ok());
  // Without the questions no passage shares a word with this one.
  ASSERT_TRUE((*index)->IndexFolder(Docs()).ok());
  StatusOr<std::vector<RetrievedChunk>> plain = (*index)->Search("came smashed", 3);
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->empty());
  // With them (a change of options re-indexes unchanged files too).
  IndexOptions options;
  options.questions = *questions;
  options.chunking.sentences = true;
  StatusOr<IndexStats> stats = (*index)->IndexFolder(Docs(), options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->files_indexed, 2);
  StatusOr<std::vector<RetrievedChunk>> hits = (*index)->Search("it came smashed", 3);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].Citation(), "returns.md:8-8");
  EXPECT_EQ((*hits)[0].text, "Damaged items are replaced free of charge.");  // no questions
  // min_score leaves out weak matches.
  StatusOr<nlohmann::json> weak =
      RunRetrieveTool(**index, {{"query", "came smashed"}}, 3, (*hits)[0].score + 1);
  ASSERT_TRUE(weak.ok());
  EXPECT_TRUE((*weak)["results"].empty());
}

TEST_F(RetrievalTest, QuestionsFileErrorsNameTheEntry) {
  Write("bad.json", R"({"passages": [{"file": "returns.md", "text": "x"}]})");
  StatusOr<std::vector<PassageQuestions>> bad = LoadPassageQuestions((root_ / "bad.json").string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("passages[0]"), std::string::npos)
      << bad.status().message();
  Write("nomatch.json",
        R"({"passages": [{"file": "returns.md", "text": "no such phrase", "questions": []}]})");
  StatusOr<std::vector<PassageQuestions>> nomatch =
      LoadPassageQuestions((root_ / "nomatch.json").string());
  ASSERT_TRUE(nomatch.ok());
  auto index = DocumentIndex::Open(Db());
  ASSERT_TRUE(index.ok());
  IndexOptions options;
  options.questions = *nomatch;
  StatusOr<IndexStats> r = (*index)->IndexFolder(Docs(), options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("\"no such phrase\") matches no passage"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(LoadPassageQuestions((root_ / "missing.json").string()).ok());
}

// The shipped example: examples/docs with examples/docs_questions.json, asked the held-out
// questions of examples/training/docs_facts.json that no index or model has seen.
TEST(ExampleDocs, HeldOutQuestionsFindTheirPassageFirst) {
  const std::string examples = std::string(QS_SOURCE_DIR) + "/examples";
  std::ifstream facts_file(examples + "/training/docs_facts.json");
  const nlohmann::json facts = nlohmann::json::parse(facts_file);
  StatusOr<std::vector<PassageQuestions>> questions =
      LoadPassageQuestions(examples + "/docs_questions.json");
  ASSERT_TRUE(questions.ok()) << questions.status().ToString();
  std::set<std::string> indexed;
  for (const PassageQuestions& p : *questions)
    indexed.insert(p.questions.begin(), p.questions.end());
  const fs::path db = fs::path(QS_BINARY_DIR) / "retrieval_test_example_docs.sqlite";
  fs::remove(db);
  auto index = DocumentIndex::Open(db.string());
  ASSERT_TRUE(index.ok());
  IndexOptions options;
  options.chunking.sentences = true;
  options.questions = *questions;
  ASSERT_TRUE((*index)->IndexFolder(examples + "/docs", options).ok());
  int asked = 0, first = 0, top3 = 0;
  for (const nlohmann::json& fact : facts) {
    for (const std::string q : fact["eval_questions"]) {
      EXPECT_EQ(indexed.count(q), 0u) << "held-out question in the index: " << q;
      StatusOr<std::vector<RetrievedChunk>> hits = (*index)->Search(q, 3);
      ASSERT_TRUE(hits.ok());
      ++asked;
      for (size_t i = 0; i < hits->size(); ++i) {
        const bool right =
            (*hits)[i].path == fact["file"].get<std::string>() &&
            (*hits)[i].text.find(fact["span"].get<std::string>()) != std::string::npos;
        if (right) {
          first += i == 0;
          ++top3;
        }
      }
    }
  }
  std::printf("held-out questions: %d, right passage first %d, in the top 3 %d\n", asked, first,
              top3);
  EXPECT_GE(first, asked * 85 / 100);
  EXPECT_GE(top3, asked * 95 / 100);
}

}  // namespace
}  // namespace qs::tools
