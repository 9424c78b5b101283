#include "tools/http_tool.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <thread>

namespace qs::tools {

namespace {

bool IsLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8 written as a dotted quad.
  int parts[4];
  char tail;
  if (std::sscanf(host.c_str(), "%d.%d.%d.%d%c", &parts[0], &parts[1], &parts[2], &parts[3],
                  &tail) != 4) {
    return false;
  }
  for (int p : parts) {
    if (p < 0 || p > 255) return false;
  }
  return parts[0] == 127;
}

std::string PercentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// A JSON argument as it appears in a URL: strings raw, everything else as JSON text.
std::string ArgumentText(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool IsIdempotent(const std::string& method) {
  return method == "GET" || method == "PUT" || method == "DELETE" || method == "HEAD";
}

// The {name} placeholders of a URL template, in order.
std::vector<std::string> Placeholders(const std::string& url) {
  std::vector<std::string> names;
  size_t pos = 0;
  while ((pos = url.find('{', pos)) != std::string::npos) {
    size_t end = url.find('}', pos);
    if (end == std::string::npos) break;
    names.push_back(url.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return names;
}

// A short, printable excerpt of a response body for error messages.
std::string Excerpt(const std::string& body) {
  std::string out;
  for (char c : body.substr(0, 160))
    out.push_back(std::isprint(static_cast<unsigned char>(c)) ? c : ' ');
  if (body.size() > 160) out += "...";
  return out;
}

}  // namespace

bool HostAllowList::Allows(const std::string& host) const {
  if (allow_loopback && IsLoopback(host)) return true;
  return std::find(hosts.begin(), hosts.end(), host) != hosts.end();
}

std::string HostAllowList::Describe() const {
  std::string s = allow_loopback ? "loopback" : "";
  for (const std::string& h : hosts) s += (s.empty() ? "" : ", ") + h;
  return s.empty() ? "none" : s;
}

StatusOr<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl p;
  const size_t sep = url.find("://");
  if (sep == std::string::npos)
    return InvalidArgument("URL \"" + url + "\" has no scheme (http://...)");
  p.scheme = url.substr(0, sep);
  if (p.scheme != "http" && p.scheme != "https") {
    return InvalidArgument("URL \"" + url + "\": scheme must be http or https");
  }
  const size_t host_start = sep + 3;
  size_t path_start = url.find_first_of("/?", host_start);
  std::string authority = url.substr(
      host_start, path_start == std::string::npos ? std::string::npos : path_start - host_start);
  p.path_and_query = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (p.path_and_query[0] == '?') p.path_and_query = "/" + p.path_and_query;
  if (authority.find('@') != std::string::npos) {
    return InvalidArgument("URL \"" + url +
                           "\": credentials in the URL are not allowed; use headers");
  }
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) return InvalidArgument("URL \"" + url + "\": unclosed [");
    p.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return InvalidArgument("URL \"" + url + "\": bad host");
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    p.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (p.host.empty()) return InvalidArgument("URL \"" + url + "\" has no host");
  p.port = p.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    char* end = nullptr;
    long port = std::strtol(port_text.c_str(), &end, 10);
    if (*end != '\0' || port <= 0 || port > 65535) {
      return InvalidArgument("URL \"" + url + "\": bad port \"" + port_text + "\"");
    }
    p.port = static_cast<int>(port);
  }
  return p;
}

StatusOr<std::string> ExpandEnv(const std::string& text,
                                const std::function<const char*(const char*)>& getenv) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t start = text.find("${", pos);
    if (start == std::string::npos) break;
    size_t end = text.find('}', start);
    if (end == std::string::npos) return InvalidArgument("unclosed ${ in a header value");
    const std::string name = text.substr(start + 2, end - start - 2);
    const char* value = getenv(name.c_str());
    if (value == nullptr) {
      return FailedPrecondition("environment variable " + name + " is not set");
    }
    out += text.substr(pos, start - pos) + value;
    pos = end + 1;
  }
  return out + text.substr(pos);
}

Status ValidateHttpToolConfig(const HttpToolConfig& tool) {
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  const std::string where = "tool " + tool.spec.name;
  if (!kMethods.count(tool.method)) {
    return InvalidArgument(where + ": method \"" + tool.method +
                           "\" (use GET, POST, PUT, PATCH or DELETE)");
  }
  QS_ASSIGN_OR_RETURN(ParsedUrl url, ParseUrl(tool.url));
  (void)url;
  const nlohmann::json& props = tool.spec.parameters.contains("properties")
                                    ? tool.spec.parameters["properties"]
                                    : nlohmann::json::object();
  for (const std::string& name : Placeholders(tool.url)) {
    if (!props.contains(name)) {
      return InvalidArgument(where + ": URL placeholder {" + name +
                             "} is not a parameter of the tool");
    }
  }
  for (const std::string& name : tool.query) {
    if (!props.contains(name)) {
      return InvalidArgument(where + ": query parameter \"" + name +
                             "\" is not a parameter of the tool");
    }
  }
  if (tool.timeout_seconds <= 0 || tool.max_retries < 0 || tool.max_response_bytes <= 0 ||
      tool.backoff_initial_seconds < 0 || tool.backoff_max_seconds < 0) {
    return InvalidArgument(where +
                           ": timeout, retries, backoff and response size must be positive");
  }
  return Status::Ok();
}

ToolCallResult HttpToolExecutor::Call(const HttpToolConfig& tool,
                                      const nlohmann::json& arguments) const {
  const auto start = std::chrono::steady_clock::now();
  ToolCallResult result;
  auto finish = [&](ToolCallResult r) {
    r.latency_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  std::vector<std::string> secrets;  // expanded ${ENV} values: never echoed back
  auto redact = [&](std::string text) {
    for (const std::string& secret : secrets) {
      for (size_t pos; !secret.empty() && (pos = text.find(secret)) != std::string::npos;) {
        text.replace(pos, secret.size(), "[redacted]");
      }
    }
    return text;
  };
  auto fail = [&](const std::string& kind, const std::string& message) {
    result.ok = false;
    result.error_kind = kind;
    result.error = redact(message);
    if (!result.output.is_null())
      result.output = nlohmann::json::parse(redact(result.output.dump()));
    return finish(result);
  };
  if (Status s = ValidateHttpToolConfig(tool); !s.ok()) return fail("config", s.message());
  if (!arguments.is_object()) return fail("bad_arguments", "arguments must be a JSON object");

  // 1. The URL: placeholders, then the query string.
  std::string url = tool.url;
  std::set<std::string> used;
  for (const std::string& name : Placeholders(tool.url)) {
    if (!arguments.contains(name)) {
      return fail("bad_arguments", "missing argument \"" + name + "\" needed by the URL");
    }
    const std::string placeholder = "{" + name + "}";
    url.replace(url.find(placeholder), placeholder.size(),
                PercentEncode(ArgumentText(arguments[name])));
    used.insert(name);
  }
  const bool body_method = tool.method == "POST" || tool.method == "PUT" || tool.method == "PATCH";
  std::vector<std::string> query_names = tool.query;
  if (query_names.empty() && !body_method) {
    for (auto it = arguments.begin(); it != arguments.end(); ++it) {
      if (!used.count(it.key())) query_names.push_back(it.key());
    }
  }
  std::string query;
  for (const std::string& name : query_names) {
    if (!arguments.contains(name) || arguments[name].is_null()) continue;
    query += (query.empty() ? "" : "&") + PercentEncode(name) + "=" +
             PercentEncode(ArgumentText(arguments[name]));
    used.insert(name);
  }
  if (!query.empty()) url += (url.find('?') == std::string::npos ? "?" : "&") + query;
  StatusOr<ParsedUrl> parsed = ParseUrl(url);
  if (!parsed.ok()) return fail("bad_arguments", parsed.status().message());
  if (!allow_list_.Allows(parsed->host)) {
    return fail("not_allowed", "host " + parsed->host +
                                   " is not on the allow-list (allowed: " + allow_list_.Describe() +
                                   "); add it to allow_hosts to permit it");
  }

  // 2. Headers (secrets expanded here, never echoed) and body.
  std::function<const char*(const char*)> env = [&](const char* name) -> const char* {
    const char* value = getenv ? getenv(name) : std::getenv(name);
    if (value != nullptr && std::strlen(value) >= 4) secrets.push_back(value);
    return value;
  };
  httplib::Headers headers;
  for (const auto& [name, value] : tool.headers) {
    StatusOr<std::string> expanded = ExpandEnv(value, env);
    if (!expanded.ok())
      return fail("config", "header " + name + ": " + expanded.status().message());
    headers.emplace(name, *expanded);
  }
  std::string body;
  if (body_method && tool.json_body) {
    nlohmann::json payload = nlohmann::json::object();
    for (auto it = arguments.begin(); it != arguments.end(); ++it) {
      if (!used.count(it.key())) payload[it.key()] = it.value();
    }
    body = payload.dump();
  }
  const std::string what = tool.method + " " + parsed->scheme + "://" + parsed->host + ":" +
                           std::to_string(parsed->port) +
                           parsed->path_and_query.substr(0, parsed->path_and_query.find('?'));

  // 3. Attempts with exponential backoff and full jitter (AWS Architecture Blog,
  //    "Exponential Backoff And Jitter", 2015): sleep U(0, min(max, initial * 2^attempt)).
  const bool may_retry = IsIdempotent(tool.method) || tool.safe_to_retry;
  thread_local std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 0;; ++attempt) {
    result.attempts = attempt + 1;
    httplib::Client client(
        parsed->scheme + "://" +
        (parsed->host.find(':') != std::string::npos ? "[" + parsed->host + "]" : parsed->host) +
        ":" + std::to_string(parsed->port));
    const auto timeout = std::chrono::duration<double>(tool.timeout_seconds);
    client.set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    client.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    client.set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
    client.set_follow_location(false);

    httplib::Request req;
    req.method = tool.method;
    req.path = parsed->path_and_query;
    req.headers = headers;
    if (!body.empty()) {
      req.body = body;
      req.set_header("Content-Type", "application/json");
    }
    std::string received;
    bool too_large = false;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (static_cast<int64_t>(received.size() + n) > tool.max_response_bytes) {
        too_large = true;
        return false;
      }
      received.append(data, n);
      return true;
    };
    const auto attempt_start = std::chrono::steady_clock::now();
    httplib::Response res;
    httplib::Error error = httplib::Error::Success;
    const bool sent = client.send(req, res, error);
    const double attempt_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - attempt_start).count();

    std::string kind, message;
    bool retryable = false;
    if (too_large) {
      return fail("too_large", what + ": response larger than " +
                                   std::to_string(tool.max_response_bytes) +
                                   " bytes (max_response_bytes)");
    }
    if (!sent) {
      const bool timed_out = error == httplib::Error::ConnectionTimeout ||
                             ((error == httplib::Error::Read || error == httplib::Error::Write) &&
                              attempt_seconds >= 0.9 * tool.timeout_seconds);
      kind = timed_out ? "timeout" : "connection";
      message =
          what + (timed_out ? ": no response within " + std::to_string(tool.timeout_seconds) + " s"
                            : ": " + httplib::to_string(error));
      retryable = true;
    } else {
      result.http_status = res.status;
      if (res.status >= 200 && res.status < 300) {
        if (!tool.json_response) {
          result.ok = true;
          result.output = received;
          return finish(result);
        }
        try {
          result.output =
              received.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(received);
          result.ok = true;
          return finish(result);
        } catch (const nlohmann::json::exception&) {
          return fail("not_json", what + ": response is not JSON (Content-Type " +
                                      res.get_header_value("Content-Type") +
                                      "): " + Excerpt(received));
        }
      }
      kind = "http_status";
      message = what + ": HTTP " + std::to_string(res.status) + ": " + Excerpt(received);
      try {
        result.output = nlohmann::json::parse(received);
      } catch (const nlohmann::json::exception&) {
        result.output = nullptr;
      }
      retryable = res.status >= 500;
    }
    if (!retryable || !may_retry || attempt >= tool.max_retries) {
      if (retryable && attempt > 0)
        message += " (after " + std::to_string(attempt + 1) + " attempts)";
      return fail(kind, message);
    }
    const double cap =
        std::min(tool.backoff_max_seconds, tool.backoff_initial_seconds * std::pow(2.0, attempt));
    const double delay = std::uniform_real_distribution<double>(0.0, cap)(rng);
    if (sleep) {
      sleep(delay);
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
  }
}

}  // namespace qs::tools
