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
  StatusOr<IndexStats> IndexFolder(const std::string& folder, const ChunkingOptions& options = {});

  // The k best chunks for a free-text query (words are matched with Porter stemming; any
  // word may match). An empty or wordless query returns no results.
  StatusOr<std::vector<RetrievedChunk>> Search(const std::string& query, int k) const;

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
// Runs the tool: {"results": [{"citation", "text", "path", "lines", "score"}, ...]}.
StatusOr<nlohmann::json> RunRetrieveTool(const DocumentIndex& index,
                                         const nlohmann::json& arguments, int default_k = 3);

}  // namespace qs::tools
