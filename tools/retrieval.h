// The built-in `retrieve` tool: a folder of text / Markdown files indexed into SQLite FTS5
// (chunked, with source file and line range per chunk), ranked by BM25, results carrying
// citations ("docs/returns.md:12-18").
//
// Thread safety: a DocumentIndex owns one SQLite connection; use one per thread, or guard
// it. Search is read-only.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/tool_spec.h"

struct sqlite3;

namespace qs::tools {

struct ChunkingOptions {
  int max_chars = 800;        // a chunk closes at the first paragraph break after this many
  int hard_max_chars = 2000;  // and at any line break after this many
  // One chunk per sentence, table row or list item instead (headings are left out): a
  // passage is then exactly what a model quotes and cites.
  bool sentences = false;
};

// Example questions that a passage answers, indexed with it (document expansion, as in
// Nogueira et al. 2019, "Document Expansion by Query Prediction"): a question worded unlike
// the passage still finds it. The questions are searched but never shown in results.
struct PassageQuestions {
  std::string file;  // relative to the indexed folder
  std::string text;  // a phrase of the passage (soft line breaks and runs of spaces ignored)
  std::vector<std::string> questions;
};

// Reads a questions file: {"passages": [{"file", "text", "questions": [...]}, ...]}.
// Errors name the file and the entry.
StatusOr<std::vector<PassageQuestions>> LoadPassageQuestions(const std::string& path);

struct IndexOptions {
  ChunkingOptions chunking;
  std::vector<PassageQuestions> questions;
};

struct RetrievedChunk {
  std::string path;    // relative to the indexed folder
  int start_line = 0;  // 1-based, inclusive
  int end_line = 0;
  std::string text;
  double score = 0;              // BM25 (higher is better)
  std::string Citation() const;  // "path:start-end"
  // {"citation", "text", "score"}; the text with Markdown's soft line breaks as spaces.
  nlohmann::json ToJson() const;
};

// Markdown text with the line breaks inside paragraphs and list items (soft breaks, which
// Markdown renders as spaces) replaced by spaces; headings, table rows, list items and blank
// lines keep theirs. A model that answers from a passage can then copy a sentence that was
// wrapped across lines as it reads.
std::string JoinSoftLineBreaks(const std::string& markdown);

struct IndexStats {
  int files_indexed = 0;  // (re)indexed in this call
  int files_unchanged = 0;
  int files_removed = 0;
  int chunks = 0;  // total in the index
};

class DocumentIndex {
 public:
  // Opens (creating if needed) the SQLite index at db_path.
  static StatusOr<std::unique_ptr<DocumentIndex>> Open(const std::string& db_path);
  ~DocumentIndex();
  DocumentIndex(const DocumentIndex&) = delete;
  DocumentIndex& operator=(const DocumentIndex&) = delete;

  // Indexes every *.txt / *.md / *.markdown file under folder (recursively); files whose
  // size and modification time are unchanged are skipped, deleted files are removed.
  // A change of options (chunking, questions) re-indexes every file. Fails when a
  // questions entry matches no chunk of its file.
  StatusOr<IndexStats> IndexFolder(const std::string& folder, const IndexOptions& options = {});

  // The k best chunks for a free-text query (words are matched with Porter stemming; any
  // word may match), those scoring below min_score left out. An empty or wordless query
  // returns no results.
  StatusOr<std::vector<RetrievedChunk>> Search(const std::string& query, int k,
                                               double min_score = 0) const;

 private:
  explicit DocumentIndex(sqlite3* db) : db_(db) {}
  Status Exec(const std::string& sql) const;
  sqlite3* db_;
};

// Splits text into chunks along paragraph breaks; each with its 1-based line range.
std::vector<RetrievedChunk> ChunkText(const std::string& path, const std::string& text,
                                      const ChunkingOptions& options);

// The tool the model sees: retrieve(query: string, k?: integer 1-10).
ToolSpec RetrieveToolSpec(const std::string& name = "retrieve");
// Runs the tool: {"results": [{"citation", "text", "score"}, ...]}, leaving out results
// that score below min_score (BM25, higher is better; 0 keeps every match).
StatusOr<nlohmann::json> RunRetrieveTool(const DocumentIndex& index,
                                         const nlohmann::json& arguments, int default_k = 3,
                                         double min_score = 0);

}  // namespace qs::tools
