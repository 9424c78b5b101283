// JSONL run traces: one JSON object per line, appended and flushed as events happen, so a
// killed process leaves every event before the kill. Attribute names follow the
// OpenTelemetry GenAI semantic conventions where one exists (gen_ai.operation.name,
// gen_ai.tool.name, gen_ai.tool.call.id, gen_ai.usage.input_tokens, ...); the rest are
// quicksilver's own (qs.step, qs.node.id, ...).
//
// Traces never carry header values or other secrets: the executor writes tool names,
// statuses, error texts (already redacted by the HTTP executor), sizes and timings, not the
// tool configuration, arguments or responses.
//
// Thread safety: Emit may be called from several threads at once (a mutex keeps lines whole).
#pragma once

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace qs::workflows {

class TraceWriter {
 public:
  TraceWriter() = default;  // a writer that drops events (no file)
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  // Opens path for appending (resumed runs continue the same file).
  Status Open(const std::string& path, const std::string& run_id);

  // Writes {"time_unix_ms", "qs.run.id", "event", ...attributes} as one line.
  void Emit(const std::string& event, const nlohmann::json& attributes);

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  std::string run_id_;
};

}  // namespace qs::workflows
