#include "workflows/run_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "tools/sqlite_statement.h"

namespace qs::workflows {

namespace {

using Statement = tools::SqliteStatement;

Status SqliteError(sqlite3* db, const std::string& what) {
  return Internal("run store: " + what + ": " + sqlite3_errmsg(db));
}

// JSON text columns; an empty column reads as null.
nlohmann::json ParseColumn(const std::string& text) {
  if (text.empty()) return nullptr;
  nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
  return value.is_discarded() ? nlohmann::json() : value;
}

std::optional<RunStatus> ParseRunStatus(const std::string& name) {
  for (RunStatus s :
       {RunStatus::kRunning, RunStatus::kPaused, RunStatus::kFinished, RunStatus::kFailed}) {
    if (name == RunStatusName(s)) return s;
  }
  return std::nullopt;
}

CheckpointKind ParseKind(const std::string& name) {
  for (CheckpointKind k :
       {CheckpointKind::kToolResult, CheckpointKind::kModel, CheckpointKind::kItem}) {
    if (name == CheckpointKindName(k)) return k;
  }
  return CheckpointKind::kNode;
}

constexpr char kCheckpointColumns[] =
    "seq, step, node_id, kind, key, state, next_node, result FROM checkpoint";

Checkpoint ReadCheckpoint(Statement& q) {
  Checkpoint c;
  c.seq = q.Int(0);
  c.step = static_cast<int>(q.Int(1));
  c.node_id = q.Text(2);
  c.kind = ParseKind(q.Text(3));
  c.key = q.Text(4);
  c.state = ParseColumn(q.Text(5));
  c.next_node = q.Text(6);
  c.result = ParseColumn(q.Text(7));
  return c;
}

}  // namespace

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kPaused:
      return "paused";
    case RunStatus::kFinished:
      return "finished";
    case RunStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* CheckpointKindName(CheckpointKind kind) {
  switch (kind) {
    case CheckpointKind::kNode:
      return "node";
    case CheckpointKind::kToolResult:
      return "tool_result";
    case CheckpointKind::kModel:
      return "model";
    case CheckpointKind::kItem:
      return "item";
  }
  return "unknown";
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ContentHash(const std::string& bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string NewRunId() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%06x", static_cast<unsigned>(rd() & 0xFFFFFF));
  return std::string(stamp) + "-" + suffix;
}

bool IsValidRunId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

RunStore::~RunStore() { sqlite3_close(db_); }

Status RunStore::ExecLocked(const std::string& sql) const {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return Internal("run store: " + message);
  }
  return Status::Ok();
}

Status RunStore::Init() {
  // FULL makes a commit durable on power loss too, not only on a killed process.
  return ExecLocked(
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "PRAGMA busy_timeout=5000;"
      "CREATE TABLE IF NOT EXISTS run(id TEXT PRIMARY KEY, workflow_file TEXT NOT NULL,"
      " workflow_hash TEXT NOT NULL, workflow_name TEXT NOT NULL, inputs TEXT NOT NULL,"
      " status TEXT NOT NULL, error TEXT NOT NULL DEFAULT '', outputs TEXT NOT NULL DEFAULT '',"
      " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS checkpoint(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
      " step INTEGER NOT NULL, node_id TEXT NOT NULL, kind TEXT NOT NULL,"
      " key TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, next_node TEXT NOT NULL DEFAULT '',"
      " result TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS pending_input(step INTEGER NOT NULL, node_id TEXT NOT NULL,"
      " prompt TEXT NOT NULL, created_ms INTEGER NOT NULL, answered_ms INTEGER);");
}

StatusOr<std::unique_ptr<RunStore>> RunStore::Create(const std::string& db_path,
                                                     const RunRecord& run) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Internal("cannot create run file " + db_path + ": " + message);
  }
  std::unique_ptr<RunStore> store(new RunStore(db));
  std::lock_guard<std::mutex> lock(store->mu_);
  QS_RETURN_IF_ERROR(store->Init());
  Statement ins(db,
                "INSERT INTO run(id, workflow_file, workflow_hash, workflow_name, inputs, status,"
                " created_ms, updated_ms) VALUES(?,?,?,?,?,?,?,?)");
  if (!ins.ok()) return SqliteError(db, "preparing the run row");
  int64_t now = NowUnixMs();
  ins.Bind(1, run.id);
  ins.Bind(2, run.workflow_file);
  ins.Bind(3, run.workflow_hash);
  ins.Bind(4, run.workflow_name);
  ins.Bind(5, DumpJson(run.inputs));
  ins.Bind(6, std::string(RunStatusName(RunStatus::kRunning)));
  ins.Bind(7, now);
  ins.Bind(8, now);
  if (sqlite3_step(ins.get()) != SQLITE_DONE) return SqliteError(db, "writing the run row");
  return store;
}

StatusOr<std::unique_ptr<RunStore>> RunStore::Open(const std::string& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return NotFound("no run file " + db_path);
  }
  std::unique_ptr<RunStore> store(new RunStore(db));
  std::lock_guard<std::mutex> lock(store->mu_);
  QS_RETURN_IF_ERROR(store->Init());
  return store;
}

StatusOr<RunRecord> RunStore::LoadRun() const {
  std::lock_guard<std::mutex> lock(mu_);
  Statement q(db_,
              "SELECT id, workflow_file, workflow_hash, workflow_name, inputs, status, error,"
              " outputs, created_ms, updated_ms FROM run LIMIT 1");
  if (!q.ok()) return SqliteError(db_, "reading the run");
  if (sqlite3_step(q.get()) != SQLITE_ROW) return NotFound("the run file holds no run");
  RunRecord run;
  run.id = q.Text(0);
  run.workflow_file = q.Text(1);
  run.workflow_hash = q.Text(2);
  run.workflow_name = q.Text(3);
  run.inputs = ParseColumn(q.Text(4));
  std::optional<RunStatus> status = ParseRunStatus(q.Text(5));
  if (!status) return Internal("run store: unknown run status '" + q.Text(5) + "'");
  run.status = *status;
  run.error = q.Text(6);
  run.outputs = ParseColumn(q.Text(7));
  run.created_unix_ms = q.Int(8);
  run.updated_unix_ms = q.Int(9);
  return run;
}

Status RunStore::AddCheckpoint(const Checkpoint& c, bool answers_pending) {
  std::lock_guard<std::mutex> lock(mu_);
  QS_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  // Rolls back on every early return, so a failed write leaves no half checkpoint.
  auto fail = [this](Status status) {
    (void)ExecLocked("ROLLBACK");
    return status;
  };
  int64_t now = NowUnixMs();
  Statement ins(db_,
                "INSERT INTO checkpoint(step, node_id, kind, key, state, next_node, result,"
                " created_ms) VALUES(?,?,?,?,?,?,?,?)");
  if (!ins.ok()) return fail(SqliteError(db_, "preparing a checkpoint"));
  ins.Bind(1, static_cast<int64_t>(c.step));
  ins.Bind(2, c.node_id);
  ins.Bind(3, std::string(CheckpointKindName(c.kind)));
  ins.Bind(4, c.key);
  ins.Bind(5, DumpJson(c.state));
  ins.Bind(6, c.next_node);
  ins.Bind(7, DumpJson(c.result));
  ins.Bind(8, now);
  if (sqlite3_step(ins.get()) != SQLITE_DONE) return fail(SqliteError(db_, "writing a checkpoint"));
  if (c.kind == CheckpointKind::kNode) {
    Statement upd(db_, "UPDATE run SET status = 'running', error = '', updated_ms = ?");
    if (!upd.ok()) return fail(SqliteError(db_, "preparing the run update"));
    upd.Bind(1, now);
    if (sqlite3_step(upd.get()) != SQLITE_DONE) return fail(SqliteError(db_, "updating the run"));
    if (answers_pending) {
      Statement ans(db_, "UPDATE pending_input SET answered_ms = ? WHERE answered_ms IS NULL");
      if (!ans.ok()) return fail(SqliteError(db_, "preparing the input update"));
      ans.Bind(1, now);
      if (sqlite3_step(ans.get()) != SQLITE_DONE) {
        return fail(SqliteError(db_, "answering the pending input"));
      }
    }
  }
  return ExecLocked("COMMIT");
}

StatusOr<std::optional<Checkpoint>> RunStore::LastNodeCheckpoint() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kCheckpointColumns +
                    " WHERE kind = 'node' ORDER BY seq DESC LIMIT 1";
  Statement q(db_, sql.c_str());
  if (!q.ok()) return SqliteError(db_, "reading checkpoints");
  int rc = sqlite3_step(q.get());
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return SqliteError(db_, "reading checkpoints");
  return std::optional<Checkpoint>(ReadCheckpoint(q));
}

StatusOr<std::vector<Checkpoint>> RunStore::PartialResultsAfter(int step) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kCheckpointColumns +
                    " WHERE kind != 'node' AND step > ? ORDER BY seq";
  Statement q(db_, sql.c_str());
  if (!q.ok()) return SqliteError(db_, "reading checkpoints");
  q.Bind(1, static_cast<int64_t>(step));
  std::vector<Checkpoint> out;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) out.push_back(ReadCheckpoint(q));
  if (rc != SQLITE_DONE) return SqliteError(db_, "reading checkpoints");
  return out;
}

Status RunStore::Pause(const PendingInput& pending) {
  std::lock_guard<std::mutex> lock(mu_);
  QS_RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  auto fail = [this](Status status) {
    (void)ExecLocked("ROLLBACK");
    return status;
  };
  int64_t now = NowUnixMs();
  Statement ins(db_,
                "INSERT INTO pending_input(step, node_id, prompt, created_ms) VALUES(?,?,?,?)");
  if (!ins.ok()) return fail(SqliteError(db_, "preparing the pending input"));
  ins.Bind(1, static_cast<int64_t>(pending.step));
  ins.Bind(2, pending.node_id);
  ins.Bind(3, pending.prompt);
  ins.Bind(4, now);
  if (sqlite3_step(ins.get()) != SQLITE_DONE) {
    return fail(SqliteError(db_, "writing the pending input"));
  }
  Statement upd(db_, "UPDATE run SET status = 'paused', updated_ms = ?");
  if (!upd.ok()) return fail(SqliteError(db_, "preparing the run update"));
  upd.Bind(1, now);
  if (sqlite3_step(upd.get()) != SQLITE_DONE) return fail(SqliteError(db_, "pausing the run"));
  return ExecLocked("COMMIT");
}

StatusOr<std::optional<PendingInput>> RunStore::Pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  Statement q(db_,
              "SELECT step, node_id, prompt FROM pending_input WHERE answered_ms IS NULL"
              " ORDER BY rowid DESC LIMIT 1");
  if (!q.ok()) return SqliteError(db_, "reading pending inputs");
  int rc = sqlite3_step(q.get());
  if (rc == SQLITE_DONE) return std::optional<PendingInput>();
  if (rc != SQLITE_ROW) return SqliteError(db_, "reading pending inputs");
  PendingInput p;
  p.step = static_cast<int>(q.Int(0));
  p.node_id = q.Text(1);
  p.prompt = q.Text(2);
  return std::optional<PendingInput>(p);
}

Status RunStore::Finish(RunStatus status, const std::string& error, const nlohmann::json& outputs) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement upd(db_, "UPDATE run SET status = ?, error = ?, outputs = ?, updated_ms = ?");
  if (!upd.ok()) return SqliteError(db_, "preparing the run update");
  upd.Bind(1, std::string(RunStatusName(status)));
  upd.Bind(2, error);
  upd.Bind(3, outputs.is_null() ? std::string() : DumpJson(outputs));
  upd.Bind(4, NowUnixMs());
  if (sqlite3_step(upd.get()) != SQLITE_DONE) return SqliteError(db_, "finishing the run");
  return Status::Ok();
}

}  // namespace qs::workflows
