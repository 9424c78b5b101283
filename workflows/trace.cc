#include "workflows/trace.h"

#include <cerrno>
#include <cstring>

#include "workflows/run_store.h"

namespace qs::workflows {

TraceWriter::~TraceWriter() {
  if (file_) std::fclose(file_);
}

Status TraceWriter::Open(const std::string& path, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) std::fclose(file_);
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) return Internal("cannot open trace file " + path + ": " + std::strerror(errno));
  run_id_ = run_id;
  return Status::Ok();
}

void TraceWriter::Emit(const std::string& event, const nlohmann::json& attributes) {
  nlohmann::json line = {{"time_unix_ms", NowUnixMs()}, {"qs.run.id", run_id_}, {"event", event}};
  for (auto it = attributes.begin(); it != attributes.end(); ++it) line[it.key()] = it.value();
  std::string text = DumpJson(line) + "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (!file_) return;
  // Flushed per line: the trace of a killed run ends at its last event, never mid-line
  // (short writes aside).
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace qs::workflows
