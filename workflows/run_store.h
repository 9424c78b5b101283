// Durable run state in one SQLite file per run (WAL mode, synchronous=FULL): the run
// (workflow file and content hash, inputs, status, error, outputs), one checkpoint row per
// completed node and per completed partial result inside a node (tool results, model turns,
// map items), and pending human inputs.
//
// Every write is one transaction, so a process killed at any point (SIGKILL included)
// leaves the file at its last committed checkpoint. The executor resumes from the last node
// checkpoint and replays the partial results of the step that was in progress, so no
// completed tool call runs twice.
//
// Thread safety: a RunStore owns one connection and serializes every call with a mutex;
// it may be shared by the threads of one run (parallel map items and tool calls).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

struct sqlite3;

namespace qs::workflows {

enum class RunStatus { kRunning, kPaused, kFinished, kFailed };
const char* RunStatusName(RunStatus status);  // "running", "paused", ...

struct RunRecord {
  std::string id;
  std::string workflow_file;
  std::string workflow_hash;  // "fnv1a64:<16 hex>" of the file's bytes
  std::string workflow_name;
  nlohmann::json inputs = nlohmann::json::object();
  RunStatus status = RunStatus::kRunning;
  std::string error;       // empty unless failed
  nlohmann::json outputs;  // null until finished
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
};

// kNode: a completed node (state after it, the next node). The other kinds are results
// inside the node of `step` that was running: kToolResult (key "call", "round/2/call/0",
// "item/3/call", ...), kModel (a model turn, key ".../round/N/model"), kItem (a finished map
// item, key "item/N").
enum class CheckpointKind { kNode, kToolResult, kModel, kItem };
const char* CheckpointKindName(CheckpointKind kind);

struct Checkpoint {
  int64_t seq = 0;  // commit order
  int step = 0;     // 1-based node run number
  std::string node_id;
  CheckpointKind kind = CheckpointKind::kNode;
  std::string key;        // empty for kNode
  nlohmann::json state;   // the state after the node (kNode) or while it runs
  std::string next_node;  // kNode: the node to run next; empty: the run ends there
  nlohmann::json result;  // the node's result / the partial result
};

struct PendingInput {
  int step = 0;
  std::string node_id;
  std::string prompt;  // rendered, shown to the person
};

class RunStore {
 public:
  // Creates the file (its folder must exist) and commits the run row with status running.
  static StatusOr<std::unique_ptr<RunStore>> Create(const std::string& db_path,
                                                    const RunRecord& run);
  // Opens an existing run file; NotFound when there is none.
  static StatusOr<std::unique_ptr<RunStore>> Open(const std::string& db_path);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  StatusOr<RunRecord> LoadRun() const;

  // Commits a checkpoint. A kNode checkpoint also marks the run running and, when
  // answers_pending is set, the pending human input as answered, in the same transaction.
  Status AddCheckpoint(const Checkpoint& checkpoint, bool answers_pending = false);
  // The newest kNode checkpoint; nullopt before the first node completes.
  StatusOr<std::optional<Checkpoint>> LastNodeCheckpoint() const;
  // Partial results (every kind but kNode) of steps after `step`, in commit order.
  StatusOr<std::vector<Checkpoint>> PartialResultsAfter(int step) const;

  // Records the pending human input and marks the run paused (one transaction).
  Status Pause(const PendingInput& pending);
  // The unanswered human input, if any.
  StatusOr<std::optional<PendingInput>> Pending() const;

  // Final status: finished with outputs, or failed with an error.
  Status Finish(RunStatus status, const std::string& error, const nlohmann::json& outputs);

 private:
  explicit RunStore(sqlite3* db) : db_(db) {}
  Status ExecLocked(const std::string& sql) const;
  Status Init();

  mutable std::mutex mu_;
  sqlite3* db_;
};

// "fnv1a64:<16 hex digits>" of bytes (stable across platforms and builds).
std::string ContentHash(const std::string& bytes);

// "20261129T044500Z-3fa9c1": sortable by start time, unique with a random suffix.
std::string NewRunId();

// True when id is safe as a folder name (letters, digits, '-', '_'; 1-64 characters).
bool IsValidRunId(const std::string& id);

int64_t NowUnixMs();

// Compact JSON; invalid UTF-8 in strings (a tool's text response) becomes U+FFFD instead of
// throwing.
std::string DumpJson(const nlohmann::json& value);

}  // namespace qs::workflows
