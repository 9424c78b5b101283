#include "tools/retrieval.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>

#include "base/files.h"
#include "tools/sqlite_statement.h"

namespace qs::tools {

namespace fs = std::filesystem;

namespace {

using Statement = SqliteStatement;

Status SqliteError(sqlite3* db, const std::string& what) {
  return Internal(what + ": " + sqlite3_errmsg(db));
}

bool IsDocument(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".txt" || ext == ".md" || ext == ".markdown";
}

// FTS5 query from free text: each word quoted (no operators reach FTS5), joined by OR.
std::string FtsQuery(const std::string& text) {
  std::string query, word;
  auto flush = [&] {
    if (word.size() >= 2 ||
        (word.size() == 1 && std::isdigit(static_cast<unsigned char>(word[0])))) {
      query += (query.empty() ? "\"" : " OR \"") + word + "\"";
    }
    word.clear();
  };
  for (unsigned char c : text) {
    // Bytes >= 0x80 belong to UTF-8 letters: keep them inside words.
    if (std::isalnum(c) || c >= 0x80) {
      word.push_back(static_cast<char>(c));
    } else {
      flush();
    }
  }
  flush();
  return query;
}

// The line of `text` that starts at *pos, without its '\n'; *pos moves past it.
std::string NextLine(const std::string& text, size_t* pos) {
  const size_t end = text.find('\n', *pos);
  std::string line = text.substr(*pos, end == std::string::npos ? std::string::npos : end - *pos);
  *pos = end == std::string::npos ? text.size() : end + 1;
  return line;
}

// A Markdown line that starts a block of its own: heading, table row, quote, list item.
bool StartsBlock(const std::string& line) {
  const size_t at = line.find_first_not_of(" \t\r");
  if (at == std::string::npos) return true;  // blank
  const char c = line[at];
  if (c == '#' || c == '|' || c == '>') return true;
  if ((c == '-' || c == '*' || c == '+') && at + 1 < line.size() && line[at + 1] == ' ') {
    return true;
  }
  size_t digits = at;
  while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits]))) {
    ++digits;
  }
  return digits > at && digits + 1 < line.size() && line[digits] == '.' && line[digits + 1] == ' ';
}

}  // namespace

std::string RetrievedChunk::Citation() const {
  return path + ":" + std::to_string(start_line) + "-" + std::to_string(end_line);
}

std::string JoinSoftLineBreaks(const std::string& markdown) {
  std::string out;
  bool in_paragraph = false;  // the previous line is text that a next line may continue
  size_t pos = 0;
  while (pos <= markdown.size()) {
    size_t end = markdown.find('\n', pos);
    if (end == std::string::npos) end = markdown.size();
    const std::string line = markdown.substr(pos, end - pos);
    const size_t first = line.find_first_not_of(" \t");
    if (in_paragraph && !StartsBlock(line)) {
      out += " " + line.substr(first);
    } else {
      if (pos > 0) out += "\n";
      out += line;
    }
    // Headings and table rows end at their line; list items and paragraphs go on.
    in_paragraph = first != std::string::npos && line[first] != '#' && line[first] != '|';
    pos = end + 1;
  }
  return out;
}

nlohmann::json RetrievedChunk::ToJson() const {
  // The citation names the file and the lines; no separate path and line fields, since
  // the result goes into prompts, where every field costs tokens.
  return {{"citation", Citation()},
          {"text", JoinSoftLineBreaks(text)},
          // Three decimals: BM25's digits beyond them carry no meaning and cost prompt tokens.
          {"score", std::round(score * 1000.0) / 1000.0}};
}

namespace {

// The trimmed cells of a Markdown table row ("| a | b |" -> {"a", "b"}).
std::vector<std::string> TableCells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  auto flush = [&] {
    const size_t b = cell.find_first_not_of(" \t");
    const size_t e = cell.find_last_not_of(" \t");
    cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    cell.clear();
  };
  const size_t b = line.find('|');
  size_t e = line.find_last_not_of(" \t");
  if (line[e] != '|') ++e;  // a row may leave out its closing bar
  for (size_t i = b + 1; i < e; ++i) {
    if (line[i] == '|') {
      flush();
    } else {
      cell.push_back(line[i]);
    }
  }
  flush();
  return cells;
}

// "| --- | :-: |": the line under a table's header row.
bool IsTableSeparator(const std::string& line) {
  return line.find('-') != std::string::npos &&
         line.find_first_not_of("|-: \t") == std::string::npos;
}

// One chunk per sentence (split after . ! ? and white space, as the agent's
// x-from-context sentences are), table row or list item; headings are left out.
std::vector<RetrievedChunk> ChunkSentences(const std::string& path, const std::string& text) {
  std::vector<RetrievedChunk> chunks;
  // A block: a paragraph or list item with its soft-wrapped lines joined by spaces, and
  // where each line starts in the joined text.
  std::string block;
  std::vector<std::pair<size_t, int>> line_starts;  // (offset in block, line number)
  auto line_at = [&](size_t offset) {
    int line = line_starts.front().second;
    for (const auto& [start, no] : line_starts) {
      if (start <= offset) line = no;
    }
    return line;
  };
  auto emit = [&](size_t begin, size_t end) {
    while (begin < end && std::isspace(static_cast<unsigned char>(block[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(block[end - 1]))) --end;
    if (begin == end) return;
    RetrievedChunk c;
    c.path = path;
    c.text = block.substr(begin, end - begin);
    c.start_line = line_at(begin);
    c.end_line = line_at(end - 1);
    chunks.push_back(std::move(c));
  };
  auto close = [&] {
    size_t start = 0;
    for (size_t i = 0; i < block.size(); ++i) {
      const char c = block[i];
      if ((c == '.' || c == '!' || c == '?') && i + 1 < block.size() &&
          std::isspace(static_cast<unsigned char>(block[i + 1]))) {
        emit(start, i + 1);
        start = i + 1;
      }
    }
    emit(start, block.size());
    block.clear();
    line_starts.clear();
  };
  // A table row becomes "header: cell; header: cell" so that it reads on its own.
  std::vector<std::string> header, previous_row;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    std::string line = NextLine(text, &pos);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (StartsBlock(line) && !block.empty()) close();
    if (first == std::string::npos || line[first] == '#') {  // blank line, heading
      header.clear();
      previous_row.clear();
      continue;
    }
    if (line[first] == '|') {
      const std::vector<std::string> cells = TableCells(line);
      if (IsTableSeparator(line)) {
        // The row above the separator names the columns and is no passage itself.
        if (!previous_row.empty() && !chunks.empty()) chunks.pop_back();
        header = previous_row;
        continue;
      }
      previous_row = cells;
      line_starts.push_back({0, line_no});
      for (size_t i = 0; i < cells.size(); ++i) {
        if (i > 0) block += "; ";
        if (i < header.size() && !header[i].empty()) block += header[i] + ": ";
        block += cells[i];
      }
      emit(0, block.size());  // one passage, not split into sentences
      block.clear();
      line_starts.clear();
      continue;
    }
    header.clear();
    previous_row.clear();
    if (!block.empty()) block += " ";
    line_starts.push_back({block.size(), line_no});
    block += line.substr(first);
  }
  if (!block.empty()) close();
  return chunks;
}

}  // namespace

std::vector<RetrievedChunk> ChunkText(const std::string& path, const std::string& text,
                                      const ChunkingOptions& options) {
  if (options.sentences) return ChunkSentences(path, text);
  std::vector<RetrievedChunk> chunks;
  RetrievedChunk current;
  current.path = path;
  int line_no = 0;
  auto close = [&] {
    // Drop chunks that are only whitespace.
    if (current.text.find_first_not_of(" \t\r\n") != std::string::npos) {
      while (!current.text.empty() &&
             (current.text.back() == '\n' || current.text.back() == '\r')) {
        current.text.pop_back();
      }
      chunks.push_back(current);
    }
    current.text.clear();
    current.start_line = 0;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    std::string line = NextLine(text, &pos);
    ++line_no;
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    // A Markdown heading starts a new chunk so that sections stay together.
    const bool heading = !line.empty() && line[0] == '#';
    if ((heading && !current.text.empty()) ||
        (blank && static_cast<int>(current.text.size()) >= options.max_chars)) {
      close();
    }
    if (blank && current.text.empty()) continue;
    if (current.start_line == 0) current.start_line = line_no;
    current.text += line + "\n";
    if (!blank) current.end_line = line_no;  // trailing blank lines are not cited
    if (static_cast<int>(current.text.size()) >= options.hard_max_chars) close();
  }
  close();
  return chunks;
}

namespace {

constexpr int kIndexVersion = 2;

// Text with every run of white space as one space, for matching phrases across line breaks.
std::string CollapseSpaces(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What the index was built with; another value re-indexes every file.
std::string OptionsFingerprint(const IndexOptions& options) {
  nlohmann::json questions = nlohmann::json::array();
  for (const PassageQuestions& p : options.questions) {
    questions.push_back({p.file, p.text, p.questions});
  }
  return nlohmann::json{{"max_chars", options.chunking.max_chars},
                        {"hard_max_chars", options.chunking.hard_max_chars},
                        {"sentences", options.chunking.sentences},
                        {"questions", questions}}
      .dump();
}

}  // namespace

StatusOr<std::vector<PassageQuestions>> LoadPassageQuestions(const std::string& path) {
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  const std::string shape =
      "; expected {\"passages\": [{\"file\": \"returns.md\", \"text\": \"a phrase of the "
      "passage\", \"questions\": [\"...\"]}]}";
  if (doc.is_discarded()) return InvalidArgument("questions file " + path + " is not valid JSON");
  if (!doc.is_object() || !doc.contains("passages") || !doc["passages"].is_array()) {
    return InvalidArgument("questions file " + path + " has no \"passages\" list" + shape);
  }
  std::vector<PassageQuestions> out;
  for (size_t i = 0; i < doc["passages"].size(); ++i) {
    const nlohmann::json& e = doc["passages"][i];
    const std::string where = "questions file " + path + ", passages[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("file") || !e["file"].is_string() || !e.contains("text") ||
        !e["text"].is_string() || !e.contains("questions") || !e["questions"].is_array()) {
      return InvalidArgument(where + " needs the strings file and text and a questions list" +
                             shape);
    }
    PassageQuestions p{e["file"], CollapseSpaces(e["text"]), {}};
    if (p.text.empty()) return InvalidArgument(where + ": text is empty" + shape);
    for (const nlohmann::json& q : e["questions"]) {
      if (!q.is_string()) return InvalidArgument(where + ": every question must be a string");
      p.questions.push_back(q);
    }
    out.push_back(std::move(p));
  }
  return out;
}

StatusOr<std::unique_ptr<DocumentIndex>> DocumentIndex::Open(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return InvalidArgument("cannot open the retrieval index " + db_path + ": " + message);
  }
  std::unique_ptr<DocumentIndex> index(new DocumentIndex(db));
  // Version 2 added the questions column; an older index is rebuilt from the files.
  int version = 0;
  {
    Statement v(db, "PRAGMA user_version");
    if (v.ok() && sqlite3_step(v.get()) == SQLITE_ROW) version = sqlite3_column_int(v.get(), 0);
  }
  if (version < kIndexVersion) {
    Status dropped = index->Exec(
        "DROP TABLE IF EXISTS chunks_fts; DROP TABLE IF EXISTS chunks; DROP TABLE IF EXISTS files;"
        "DROP TABLE IF EXISTS settings; PRAGMA user_version = " +
        std::to_string(kIndexVersion) + ";");
    if (!dropped.ok()) return dropped.WithContext(db_path);
  }
  Status s = index->Exec(
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER);"
      "CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT);"
      "CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, path TEXT, start_line INTEGER,"
      " end_line INTEGER, text TEXT, questions TEXT);"
      "CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);"
      "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, questions, content='chunks',"
      " content_rowid='id', tokenize='porter unicode61');");
  if (!s.ok()) return s.WithContext(db_path);
  return index;
}

DocumentIndex::~DocumentIndex() { sqlite3_close(db_); }

Status DocumentIndex::Exec(const std::string& sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return Internal("SQLite: " + message);
  }
  return Status::Ok();
}

StatusOr<IndexStats> DocumentIndex::IndexFolder(const std::string& folder,
                                                const IndexOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    return NotFound("document folder " + folder + " does not exist or is not a folder");
  }
  // What is on disk now.
  std::map<std::string, std::pair<int64_t, int64_t>> on_disk;  // path -> (size, mtime)
  for (auto it = fs::recursive_directory_iterator(folder, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || !IsDocument(it->path())) continue;
    const std::string rel = fs::relative(it->path(), folder, ec).generic_string();
    const auto mtime = fs::last_write_time(it->path(), ec).time_since_epoch().count();
    on_disk[rel] = {static_cast<int64_t>(it->file_size(ec)), static_cast<int64_t>(mtime)};
  }
  if (ec) return InvalidArgument("cannot list " + folder + ": " + ec.message());

  IndexStats stats;
  QS_RETURN_IF_ERROR(Exec("BEGIN"));
  auto rollback = [&](Status s) {
    (void)Exec("ROLLBACK");
    return s;
  };
  // Other options than last time: every file is indexed again.
  const std::string fingerprint = OptionsFingerprint(options);
  {
    Statement q(db_, "SELECT value FROM settings WHERE key = 'options'");
    if (!q.ok()) return rollback(SqliteError(db_, "reading the index settings"));
    const bool same = sqlite3_step(q.get()) == SQLITE_ROW && q.Text(0) == fingerprint;
    if (!same) {
      Status cleared = Exec(
          "INSERT INTO chunks_fts(chunks_fts) VALUES('delete-all'); DELETE FROM chunks;"
          " DELETE FROM files;");
      if (!cleared.ok()) return rollback(cleared);
      Statement set(db_, "INSERT OR REPLACE INTO settings(key, value) VALUES ('options', ?)");
      set.Bind(1, fingerprint);
      if (sqlite3_step(set.get()) != SQLITE_DONE) {
        return rollback(SqliteError(db_, "writing the index settings"));
      }
    }
  }
  std::vector<bool> question_used(options.questions.size(), false);
  // Known files: unchanged, changed or gone.
  std::map<std::string, std::pair<int64_t, int64_t>> known;
  {
    Statement q(db_, "SELECT path, size, mtime FROM files");
    if (!q.ok()) return rollback(SqliteError(db_, "reading the file list"));
    while (sqlite3_step(q.get()) == SQLITE_ROW) {
      known[q.Text(0)] = {sqlite3_column_int64(q.get(), 1), sqlite3_column_int64(q.get(), 2)};
    }
  }
  auto remove_file = [&](const std::string& path) -> Status {
    // External-content FTS5 tables need the old text to delete their entries.
    Statement del_fts(db_,
                      "INSERT INTO chunks_fts(chunks_fts, rowid, text) SELECT 'delete', id, text "
                      "FROM chunks WHERE path = ?");
    del_fts.Bind(1, path);
    if (sqlite3_step(del_fts.get()) != SQLITE_DONE) return SqliteError(db_, "removing " + path);
    Statement del(db_, "DELETE FROM chunks WHERE path = ?");
    del.Bind(1, path);
    if (sqlite3_step(del.get()) != SQLITE_DONE) return SqliteError(db_, "removing " + path);
    Statement del_file(db_, "DELETE FROM files WHERE path = ?");
    del_file.Bind(1, path);
    if (sqlite3_step(del_file.get()) != SQLITE_DONE) return SqliteError(db_, "removing " + path);
    return Status::Ok();
  };
  for (const auto& [path, meta] : known) {
    if (!on_disk.count(path)) {
      if (Status s = remove_file(path); !s.ok()) return rollback(s);
      ++stats.files_removed;
    }
  }
  for (const auto& [path, meta] : on_disk) {
    auto it = known.find(path);
    if (it != known.end() && it->second == meta) {
      ++stats.files_unchanged;
      continue;
    }
    if (it != known.end()) {
      if (Status s = remove_file(path); !s.ok()) return rollback(s);
    }
    StatusOr<std::string> text = ReadFile(folder + "/" + path);
    if (!text.ok()) return rollback(text.status());
    for (const RetrievedChunk& chunk : ChunkText(path, *text, options.chunking)) {
      // The questions of every entry whose phrase this chunk holds.
      std::string questions;
      const std::string flat = CollapseSpaces(JoinSoftLineBreaks(chunk.text));
      for (size_t i = 0; i < options.questions.size(); ++i) {
        const PassageQuestions& p = options.questions[i];
        if (p.file != path || flat.find(p.text) == std::string::npos) continue;
        question_used[i] = true;
        for (const std::string& q : p.questions) questions += q + "\n";
      }
      Statement ins(db_,
                    "INSERT INTO chunks(path, start_line, end_line, text, questions)"
                    " VALUES (?, ?, ?, ?, ?)");
      ins.Bind(1, path);
      ins.Bind(2, chunk.start_line);
      ins.Bind(3, chunk.end_line);
      ins.Bind(4, chunk.text);
      ins.Bind(5, questions);
      if (sqlite3_step(ins.get()) != SQLITE_DONE)
        return rollback(SqliteError(db_, "indexing " + path));
      Statement fts(db_, "INSERT INTO chunks_fts(rowid, text, questions) VALUES (?, ?, ?)");
      fts.Bind(1, sqlite3_last_insert_rowid(db_));
      fts.Bind(2, chunk.text);
      fts.Bind(3, questions);
      if (sqlite3_step(fts.get()) != SQLITE_DONE)
        return rollback(SqliteError(db_, "indexing " + path));
    }
    Statement file(db_, "INSERT INTO files(path, size, mtime) VALUES (?, ?, ?)");
    file.Bind(1, path);
    file.Bind(2, meta.first);
    file.Bind(3, meta.second);
    if (sqlite3_step(file.get()) != SQLITE_DONE)
      return rollback(SqliteError(db_, "indexing " + path));
    ++stats.files_indexed;
  }
  // Only files indexed in this call were matched; a full re-index (new options) sees all.
  if (stats.files_unchanged == 0) {
    for (size_t i = 0; i < options.questions.size(); ++i) {
      if (question_used[i]) continue;
      const PassageQuestions& p = options.questions[i];
      return rollback(InvalidArgument("questions entry " + std::to_string(i) + " (file \"" +
                                      p.file + "\", text \"" + p.text +
                                      "\") matches no passage of " + folder +
                                      "; its text must be a phrase of one passage of "
                                      "that file"));
    }
  }
  QS_RETURN_IF_ERROR(Exec("COMMIT"));
  Statement count(db_, "SELECT count(*) FROM chunks");
  if (count.ok() && sqlite3_step(count.get()) == SQLITE_ROW) {
    stats.chunks = static_cast<int>(sqlite3_column_int64(count.get(), 0));
  }
  return stats;
}

StatusOr<std::vector<RetrievedChunk>> DocumentIndex::Search(const std::string& query, int k,
                                                            double min_score) const {
  std::vector<RetrievedChunk> results;
  const std::string fts = FtsQuery(query);
  if (fts.empty() || k <= 0) return results;
  // bm25() is lower-is-better in FTS5; report it negated so that higher is better.
  Statement q(db_,
              "SELECT c.path, c.start_line, c.end_line, c.text, -bm25(chunks_fts) AS score "
              "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
              "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts), c.id LIMIT ?");
  if (!q.ok()) return SqliteError(db_, "preparing the search");
  q.Bind(1, fts);
  q.Bind(2, k);
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    RetrievedChunk c;
    c.path = q.Text(0);
    c.start_line = sqlite3_column_int(q.get(), 1);
    c.end_line = sqlite3_column_int(q.get(), 2);
    c.text = q.Text(3);
    c.score = sqlite3_column_double(q.get(), 4);
    if (c.score < min_score) {  // ranked best first: the rest score lower still
      rc = SQLITE_DONE;
      break;
    }
    results.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "searching for \"" + query + "\"");
  return results;
}

ToolSpec RetrieveToolSpec(const std::string& name) {
  ToolSpec spec;
  spec.name = name;
  spec.description = "Search the document collection; returns passages with citations.";
  spec.parameters = {{"type", "object"},
                     {"properties",
                      // A retrieve node passes the user's question as the query: long questions
                      // must fit (the model's own queries are bounded by its canvas anyway).
                      {{"query", {{"type", "string"}, {"minLength", 1}, {"maxLength", 4000}}},
                       {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 10}}}}},
                     {"required", {"query"}},
                     {"additionalProperties", false}};
  return spec;
}

StatusOr<nlohmann::json> RunRetrieveTool(const DocumentIndex& index,
                                         const nlohmann::json& arguments, int default_k,
                                         double min_score) {
  if (!arguments.is_object() || !arguments.contains("query") || !arguments["query"].is_string()) {
    return InvalidArgument("retrieve needs {\"query\": string}");
  }
  int k = default_k;
  if (arguments.contains("k")) {
    if (!arguments["k"].is_number_integer() || arguments["k"] < 1 || arguments["k"] > 10) {
      return InvalidArgument("retrieve: k must be an integer from 1 to 10");
    }
    k = arguments["k"].get<int>();
  }
  QS_ASSIGN_OR_RETURN(std::vector<RetrievedChunk> hits,
                      index.Search(arguments["query"].get<std::string>(), k, min_score));
  nlohmann::json results = nlohmann::json::array();
  for (const RetrievedChunk& c : hits) results.push_back(c.ToJson());
  return nlohmann::json{{"results", results}};
}

}  // namespace qs::tools
