// The example tool server: a small HTTP API over the JSON files in examples/data, for the
// example agents and the end-to-end tests. Loopback only.
//
//   qs_example_tool_server --port 8765 --data examples/data
//
// Endpoints:
//   GET /orders/{order_id}           one order, 404 when unknown
//   GET /orders?customer=NAME        the customer's orders (a list, possibly empty)
//   GET /shipments/{tracking_id}     a shipment's status, 404 when unknown
//   GET /health                      {"ok": true}
// Fault injection for tests (what a misbehaving tool looks like):
//   GET /faults/500, /faults/hang?seconds=N, /faults/html, /faults/big?bytes=N,
//   GET /faults/flaky?key=K&failures=N  (503 for the first N calls with that key, then 200)
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

namespace {

using nlohmann::json;

bool LoadJson(const std::string& path, json* out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "tool server: cannot open %s\n", path.c_str());
    return false;
  }
  try {
    *out = json::parse(in);
  } catch (const json::exception& e) {
    std::fprintf(stderr, "tool server: %s: %s\n", path.c_str(), e.what());
    return false;
  }
  return true;
}

void Reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

httplib::Server* g_server = nullptr;
void Stop(int) {
  if (g_server) g_server->stop();
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8765;
  std::string data = "examples/data";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (a == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else {
      std::fprintf(stderr, "usage: qs_example_tool_server [--port N] [--data DIR]\n");
      return 2;
    }
  }
  json orders, shipments;
  if (!LoadJson(data + "/orders.json", &orders) ||
      !LoadJson(data + "/shipments.json", &shipments)) {
    return 1;
  }
  std::mutex flaky_mu;
  std::map<std::string, int> flaky_calls;

  httplib::Server server;
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, {{"ok", true}});
  });
  server.Get(R"(/orders/([A-Za-z0-9_-]+))",
             [&](const httplib::Request& req, httplib::Response& res) {
               for (const json& o : orders) {
                 if (o["order_id"] == req.matches[1].str()) return Reply(res, 200, o);
               }
               Reply(res, 404, {{"error", "no order with id " + req.matches[1].str()}});
             });
  server.Get("/orders", [&](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("customer")) return Reply(res, 400, {{"error", "customer is required"}});
    json out = json::array();
    for (const json& o : orders) {
      if (o["customer"] == req.get_param_value("customer")) out.push_back(o);
    }
    Reply(res, 200, {{"customer", req.get_param_value("customer")}, {"orders", out}});
  });
  server.Get(R"(/shipments/([A-Za-z0-9_-]+))",
             [&](const httplib::Request& req, httplib::Response& res) {
               for (const json& s : shipments) {
                 if (s["tracking_id"] == req.matches[1].str()) return Reply(res, 200, s);
               }
               Reply(res, 404, {{"error", "no shipment with tracking id " + req.matches[1].str()}});
             });
  server.Get("/faults/500", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("internal server error", "text/plain");
  });
  server.Get("/faults/hang", [](const httplib::Request& req, httplib::Response& res) {
    double seconds =
        req.has_param("seconds") ? std::atof(req.get_param_value("seconds").c_str()) : 30;
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(seconds, 60.0)));
    Reply(res, 200, {{"late", true}});
  });
  server.Get("/faults/html", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<html><body>Gateway says hello</body></html>", "text/html");
  });
  server.Get("/faults/big", [](const httplib::Request& req, httplib::Response& res) {
    long bytes = req.has_param("bytes") ? std::atol(req.get_param_value("bytes").c_str()) : 5 << 20;
    res.set_content("\"" + std::string(static_cast<size_t>(std::min(bytes, 64L << 20)), 'x') + "\"",
                    "application/json");
  });
  server.Get("/faults/flaky", [&](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.get_param_value("key");
    const int failures = std::atoi(req.get_param_value("failures").c_str());
    int calls;
    {
      std::lock_guard<std::mutex> lock(flaky_mu);
      calls = ++flaky_calls[key];
    }
    if (calls <= failures) return Reply(res, 503, {{"error", "try again"}, {"call", calls}});
    Reply(res, 200, {{"ok", true}, {"call", calls}});
  });

  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "tool server: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  g_server = &server;
  std::signal(SIGTERM, Stop);
  std::signal(SIGINT, Stop);
  std::printf("tool server: listening on http://127.0.0.1:%d (data %s)\n", port, data.c_str());
  std::fflush(stdout);
  server.listen_after_bind();
  return 0;
}
