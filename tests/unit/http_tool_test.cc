// The HTTP tool executor against a real cpp-httplib server on 127.0.0.1: request mapping,
// secrets, retries, timeouts, size limits, non-JSON bodies, refused connections and the
// host allow-list.
#include "tools/http_tool.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

namespace qs::tools {
namespace {

class ToolServer {
 public:
  ToolServer() {
    server_.Get(R"(/orders/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      nlohmann::json out = {{"id", req.matches[1].str()}, {"status", "shipped"}};
      if (req.has_param("verbose")) out["verbose"] = req.get_param_value("verbose");
      out["auth"] = req.get_header_value("Authorization");
      res.set_content(out.dump(), "application/json");
    });
    server_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(nlohmann::json{{"body", nlohmann::json::parse(req.body)},
                                     {"content_type", req.get_header_value("Content-Type")}}
                          .dump(),
                      "application/json");
    });
    server_.Get("/flaky", [this](const httplib::Request&, httplib::Response& res) {
      if (++flaky_calls_ <= 2) {
        res.status = 503;
        res.set_content(R"({"error": "busy"})", "application/json");
      } else {
        res.set_content(R"({"ok": true})", "application/json");
      }
    });
    auto always500 = [this](const httplib::Request&, httplib::Response& res) {
      ++failing_calls_;
      res.status = 500;
      res.set_content("internal error", "text/plain");
    };
    server_.Get("/always500", always500);
    server_.Post("/always500", always500);
    server_.Get("/missing", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 404;
      // A careless server that echoes the credentials it received.
      res.set_content("{\"error\": \"no such item\", \"you_sent\": \"" +
                          req.get_header_value("Authorization") + "\"}",
                      "application/json");
    });
    server_.Get("/hang", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("{}", "application/json");
    });
    server_.Get("/html", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<html><body>Hello</body></html>", "text/html");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("\"" + std::string(200000, 'x') + "\"", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ToolServer() {
    server_.stop();
    thread_.join();
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::atomic<int> flaky_calls_{0};
  std::atomic<int> failing_calls_{0};

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

HttpToolConfig Tool(const std::string& url, const std::string& method = "GET") {
  HttpToolConfig t;
  t.spec.name = "test_tool";
  t.spec.parameters = {{"type", "object"},
                       {"properties",
                        {{"order_id", {{"type", "string"}}},
                         {"verbose", {{"type", "boolean"}}},
                         {"note", {{"type", "string"}}},
                         {"count", {{"type", "integer"}}}}}};
  t.url = url;
  t.method = method;
  t.backoff_initial_seconds = 0.01;
  return t;
}

HttpToolExecutor Executor() {
  HttpToolExecutor e{HostAllowList{}};
  e.getenv = [](const char* name) -> const char* {
    return std::string(name) == "ORDERS_TOKEN" ? "s3cr3t-token" : nullptr;
  };
  return e;
}

TEST(HttpTool, PathPlaceholdersQueryAndSecretHeaders) {
  ToolServer server;
  HttpToolConfig t = Tool(server.Url("/orders/{order_id}"));
  t.headers["Authorization"] = "Bearer ${ORDERS_TOKEN}";
  ToolCallResult r = Executor().Call(t, {{"order_id", "A 17&x"}, {"verbose", true}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.output["id"], "A 17&x");  // percent-encoded on the way, decoded by the server
  EXPECT_EQ(r.output["verbose"], "true");
  EXPECT_EQ(r.output["auth"], "Bearer s3cr3t-token");
  EXPECT_EQ(r.attempts, 1);
}

TEST(HttpTool, PostSendsTheRemainingArgumentsAsJson) {
  ToolServer server;
  ToolCallResult r =
      Executor().Call(Tool(server.Url("/echo"), "POST"), {{"note", "hi"}, {"count", 3}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.output["body"], (nlohmann::json{{"note", "hi"}, {"count", 3}}));
  EXPECT_EQ(r.output["content_type"], "application/json");
}

TEST(HttpTool, RetriesServerErrorsWithBackoffForIdempotentMethods) {
  ToolServer server;
  HttpToolExecutor e = Executor();
  std::vector<double> sleeps;
  e.sleep = [&](double s) { sleeps.push_back(s); };
  ToolCallResult r = e.Call(Tool(server.Url("/flaky")), nlohmann::json::object());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.attempts, 3);
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_LE(sleeps[0], 0.01);  // full jitter under the cap initial * 2^attempt
  EXPECT_LE(sleeps[1], 0.02);
}

TEST(HttpTool, ServerErrorIsReportedAfterTheLastAttempt) {
  ToolServer server;
  HttpToolExecutor e = Executor();
  e.sleep = [](double) {};
  ToolCallResult r = e.Call(Tool(server.Url("/always500")), nlohmann::json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "http_status");
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_NE(r.error.find("HTTP 500: internal error (after 3 attempts)"), std::string::npos)
      << r.error;
}

TEST(HttpTool, PostIsNotRetriedUnlessMarkedSafe) {
  ToolServer server;
  HttpToolExecutor e = Executor();
  e.sleep = [](double) {};
  HttpToolConfig t = Tool(server.Url("/always500"), "POST");
  EXPECT_EQ(e.Call(t, nlohmann::json::object()).attempts, 1);
  t.safe_to_retry = true;
  EXPECT_EQ(e.Call(t, nlohmann::json::object()).attempts, 3);
  EXPECT_EQ(server.failing_calls_, 4);
}

TEST(HttpTool, ClientErrorsAreNotRetriedAndSecretsAreRedacted) {
  ToolServer server;
  HttpToolConfig t = Tool(server.Url("/missing"));
  t.headers["Authorization"] = "Bearer ${ORDERS_TOKEN}";
  ToolCallResult r = Executor().Call(t, nlohmann::json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.error.find("s3cr3t"), std::string::npos) << r.error;
  EXPECT_EQ(r.output.dump().find("s3cr3t"), std::string::npos) << r.output.dump();
  EXPECT_NE(r.error.find("[redacted]"), std::string::npos);
}

TEST(HttpTool, TimeoutIsReported) {
  ToolServer server;
  HttpToolConfig t = Tool(server.Url("/hang"));
  t.timeout_seconds = 0.3;
  t.max_retries = 0;
  ToolCallResult r = Executor().Call(t, nlohmann::json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "timeout") << r.error;
  EXPECT_LT(r.latency_ms, 1400);
}

TEST(HttpTool, NonJsonAndOversizedResponses) {
  ToolServer server;
  ToolCallResult html = Executor().Call(Tool(server.Url("/html")), nlohmann::json::object());
  EXPECT_EQ(html.error_kind, "not_json");
  EXPECT_NE(html.error.find("text/html"), std::string::npos) << html.error;

  HttpToolConfig text = Tool(server.Url("/html"));
  text.json_response = false;
  ToolCallResult as_text = Executor().Call(text, nlohmann::json::object());
  ASSERT_TRUE(as_text.ok);
  EXPECT_EQ(as_text.output, "<html><body>Hello</body></html>");

  HttpToolConfig big = Tool(server.Url("/big"));
  big.max_response_bytes = 100000;
  ToolCallResult r = Executor().Call(big, nlohmann::json::object());
  EXPECT_EQ(r.error_kind, "too_large");
  EXPECT_NE(r.error.find("larger than 100000 bytes"), std::string::npos);
}

TEST(HttpTool, RefusedConnection) {
  int port;
  {
    ToolServer closed;  // take a free port, then close it
    port = std::stoi(closed.Url("").substr(17));
  }
  HttpToolExecutor e = Executor();
  int sleeps = 0;
  e.sleep = [&](double) { ++sleeps; };
  ToolCallResult r =
      e.Call(Tool("http://127.0.0.1:" + std::to_string(port) + "/x"), nlohmann::json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "connection") << r.error;
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(sleeps, 2);
}

TEST(HttpTool, HostsOffTheAllowListAreNeverContacted) {
  ToolCallResult r = Executor().Call(Tool("http://example.com/orders"), nlohmann::json::object());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "not_allowed");
  EXPECT_EQ(r.attempts, 0);
  EXPECT_NE(r.error.find("host example.com is not on the allow-list (allowed: loopback)"),
            std::string::npos)
      << r.error;
  HostAllowList list{{"api.internal"}, false};
  EXPECT_TRUE(list.Allows("api.internal"));
  EXPECT_FALSE(list.Allows("127.0.0.1"));
  EXPECT_TRUE(HostAllowList{}.Allows("127.3.2.1"));
  EXPECT_FALSE(HostAllowList{}.Allows("127.0.0.1.evil.com"));
}

TEST(HttpTool, ConfigurationAndArgumentErrors) {
  HttpToolExecutor e = Executor();
  HttpToolConfig t = Tool("http://127.0.0.1:1/orders/{order_id}");
  ToolCallResult r = e.Call(t, {{"verbose", true}});
  EXPECT_EQ(r.error_kind, "bad_arguments");
  EXPECT_NE(r.error.find("missing argument \"order_id\""), std::string::npos);

  t.headers["X-Key"] = "${NOT_SET_ANYWHERE}";
  r = e.Call(t, {{"order_id", "1"}});
  EXPECT_EQ(r.error_kind, "config");
  EXPECT_NE(r.error.find("environment variable NOT_SET_ANYWHERE is not set"), std::string::npos);

  EXPECT_FALSE(ValidateHttpToolConfig(Tool("ftp://127.0.0.1/x")).ok());
  EXPECT_NE(ValidateHttpToolConfig(Tool("http://127.0.0.1/{nope}")).message().find("{nope}"),
            std::string::npos);
  EXPECT_NE(ValidateHttpToolConfig(Tool("http://127.0.0.1/", "TRACE")).message().find("TRACE"),
            std::string::npos);
  EXPECT_FALSE(ParseUrl("http://user:pw@127.0.0.1/").ok());
  StatusOr<ParsedUrl> v6 = ParseUrl("http://[::1]:8080/a?b=1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_EQ(v6->path_and_query, "/a?b=1");
}

}  // namespace
}  // namespace qs::tools
