// Calling a tool over HTTP: the arguments the model produced become a request (URL
// template, query string, JSON body, headers with ${ENV} secrets), sent with a timeout,
// retried with exponential backoff and jitter when that is safe, and the response is
// checked (size limit, JSON) before it goes back to the model as an observation.
//
// Secrets: header values are expanded from the environment at call time and never appear
// in results, errors or traces.
//
// Thread safety: HttpToolExecutor is stateless apart from its options; Call may run on
// several threads at once (parallel tool calls).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/tool_spec.h"

namespace qs::tools {

struct HttpToolConfig {
  ToolSpec spec;
  std::string method = "GET";  // GET, POST, PUT, PATCH, DELETE
  // "http://127.0.0.1:8080/orders/{order_id}": {name} takes the URL-encoded argument.
  std::string url;
  // Arguments sent in the query string. Empty: for GET and DELETE every argument not used
  // in the path; for other methods none.
  std::vector<std::string> query;
  // For POST, PUT and PATCH: the arguments not used in the path or query go in a JSON body.
  bool json_body = true;
  std::map<std::string, std::string> headers;  // values may contain ${ENV_VAR}
  double timeout_seconds = 10.0;               // per attempt (connect, read, write)
  int max_retries = 2;                         // extra attempts after the first
  double backoff_initial_seconds = 0.2;
  double backoff_max_seconds = 5.0;
  bool safe_to_retry = false;  // retry a non-idempotent method (POST, PATCH) anyway
  int64_t max_response_bytes = 1 << 20;
  bool json_response = true;  // false: the body is returned as a JSON string
};

// Which hosts tools may reach. Default: loopback only (127.0.0.0/8, localhost, ::1).
struct HostAllowList {
  std::vector<std::string> hosts;  // exact host names or addresses
  bool allow_loopback = true;
  bool Allows(const std::string& host) const;
  std::string Describe() const;
};

struct ToolCallResult {
  bool ok = false;
  int http_status = 0;     // 0 when no response arrived
  nlohmann::json output;   // the response (ok) or null
  std::string error;       // what went wrong, for the model and the trace (no secrets)
  std::string error_kind;  // "http_status", "timeout", "connection", "too_large",
                           // "not_json", "not_allowed", "bad_arguments", "config"
  int attempts = 0;
  double latency_ms = 0;  // all attempts and backoff included
};

// The parts of a URL the executor needs.
struct ParsedUrl {
  std::string scheme;  // http or https
  std::string host;
  int port = 0;
  std::string path_and_query;  // starts with '/'
};
StatusOr<ParsedUrl> ParseUrl(const std::string& url);

// Replaces ${NAME} with the environment variable NAME; a missing variable is an error that
// names it (never its value).
StatusOr<std::string> ExpandEnv(const std::string& text,
                                const std::function<const char*(const char*)>& getenv);

class HttpToolExecutor {
 public:
  explicit HttpToolExecutor(HostAllowList allow_list) : allow_list_(std::move(allow_list)) {}
  // Never throws; every failure is a ToolCallResult with ok = false.
  ToolCallResult Call(const HttpToolConfig& tool, const nlohmann::json& arguments) const;

  // Overridable for tests (sleeping during backoff, reading the environment).
  std::function<void(double seconds)> sleep;
  std::function<const char*(const char*)> getenv;

 private:
  HostAllowList allow_list_;
};

// Checks a tool's static configuration (method, URL, placeholders vs parameters).
Status ValidateHttpToolConfig(const HttpToolConfig& tool);

}  // namespace qs::tools
