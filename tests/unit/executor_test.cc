// The workflow executor against a real cpp-httplib tool server on 127.0.0.1 and real SQLite
// run files under the build folder: tool nodes and templates, routers and bounded cycles,
// maps, reducers, the agent loop (with a scripted test double for the model), human pauses,
// HTTP faults, and runs killed with SIGKILL at every checkpoint and then resumed.
#include "workflows/executor.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

namespace qs::workflows {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Counts every request by path, so tests can check that no completed call was repeated.
class ToolServer {
 public:
  ToolServer() {
    server_.Get(R"(/orders/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      last_auth_ = req.get_header_value("Authorization");
      json out = {{"id", req.matches[1].str()}, {"status", "shipped"}};
      for (const auto& p : req.params) out["query_" + p.first] = p.second;
      res.set_content(out.dump(), "application/json");
    });
    server_.Get(R"(/count/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      res.set_content(json{{"name", req.matches[1].str()}}.dump(), "application/json");
    });
    server_.Get(R"(/obj/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      std::string name = req.matches[1].str();
      res.set_content(json{{"last", name}, {name, true}}.dump(), "application/json");
    });
    server_.Get("/str", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      res.set_content("\"just text\"", "application/json");
    });
    server_.Get(R"(/slow/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      int now = ++in_flight_;
      int seen = max_in_flight_.load();
      while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      --in_flight_;
      res.set_content(json{{"id", req.matches[1].str()}}.dump(), "application/json");
    });
    server_.Get("/always500", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      res.status = 500;
      res.set_content("internal error", "text/plain");
    });
    server_.Get("/hang", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));
      res.set_content("{}", "application/json");
    });
    server_.Get("/html", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      res.set_content("<html><body>Hello</body></html>", "text/html");
    });
    server_.Get("/big", [this](const httplib::Request& req, httplib::Response& res) {
      Count(req);
      res.set_content("\"" + std::string(20000, 'x') + "\"", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ToolServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  int Calls(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_[path];
  }
  std::map<std::string, int> AllCalls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.clear();
  }
  std::string last_auth_;
  std::atomic<int> max_in_flight_{0};

 private:
  void Count(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[req.path];
  }
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
  std::atomic<int> in_flight_{0};
};

// A test double for the model: it answers from a fixed script, choosing the turn by the
// number of assistant messages already in the conversation (so a resumed run in another
// process continues the same script).
class ScriptedModel : public AgentModel {
 public:
  explicit ScriptedModel(std::vector<AgentResponse> script) : script_(std::move(script)) {}
  // Per-node scripts, for workflows with several model nodes.
  static ScriptedModel ByNode(std::map<std::string, std::vector<AgentResponse>> by_node) {
    ScriptedModel model({});
    model.by_node_ = std::move(by_node);
    return model;
  }
  StatusOr<AgentResponse> Generate(const AgentRequest& request) override {
    size_t turn = 0;
    for (const ChatMessage& m : request.messages) turn += m.role == "assistant";
    requests.push_back(request);
    auto it = by_node_.find(request.node_id);
    const std::vector<AgentResponse>& script = it == by_node_.end() ? script_ : it->second;
    AgentResponse r = script[std::min(turn, script.size() - 1)];
    r.stats.model_name = "scripted";
    r.stats.input_tokens = 10 * static_cast<int64_t>(request.messages.size());
    r.stats.output_tokens = 7;
    return r;
  }
  std::vector<AgentRequest> requests;

 private:
  std::vector<AgentResponse> script_;
  std::map<std::string, std::vector<AgentResponse>> by_node_;
};

AgentResponse Calls(std::vector<AgentToolCall> calls) {
  AgentResponse r;
  r.tool_calls = std::move(calls);
  return r;
}
AgentResponse Answer(json answer) {
  AgentResponse r;
  r.answer = std::move(answer);
  return r;
}

std::string TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir =
      std::string(QS_BINARY_DIR) + "/executor_test/" + info->test_suite_name() + "." + info->name();
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Writes the YAML (PORT replaced by the server's port) next to the runs and loads it.
WorkflowSpec Load(const std::string& dir, std::string yaml, int port) {
  for (size_t at = yaml.find("PORT"); at != std::string::npos; at = yaml.find("PORT", at)) {
    yaml.replace(at, 4, std::to_string(port));
  }
  fs::create_directories(dir);
  std::string path = dir + "/workflow.yaml";
  std::ofstream(path) << yaml;
  StatusOr<WorkflowSpec> spec = LoadWorkflowFile(path);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) std::abort();
  return *spec;
}

ExecutorOptions Options(const std::string& dir, AgentModel* model = nullptr) {
  ExecutorOptions o;
  o.runs_dir = dir + "/runs";
  o.model = model;
  o.sleep = [](double) {};
  o.getenv = [](const char* name) -> const char* {
    return std::string(name) == "ORDERS_TOKEN" ? "s3cr3t-token" : nullptr;
  };
  return o;
}

RunRecord StoredRun(const RunResult& r) {
  StatusOr<std::unique_ptr<RunStore>> store = RunStore::Open(r.run_dir + "/run.sqlite");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  StatusOr<RunRecord> run = (*store)->LoadRun();
  EXPECT_TRUE(run.ok());
  return *run;
}

std::vector<json> TraceEvents(const RunResult& r) {
  std::ifstream in(r.run_dir + "/trace.jsonl");
  std::vector<json> events;
  std::string line;
  while (std::getline(in, line)) events.push_back(json::parse(line));
  return events;
}

const char kOrderTool[] = R"(
  - name: get_order
    description: Look up an order.
    parameters:
      type: object
      properties: {order_id: {type: string}, limit: {type: integer}}
      required: [order_id]
    http:
      url: "http://127.0.0.1:PORT/orders/{order_id}"
      headers: {Authorization: "Bearer ${ORDERS_TOKEN}"}
)";

TEST(Executor, ToolNodesRenderTemplatesAndCheckpointEveryNode) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, std::string(R"(
name: tools
inputs:
  customer: {type: string}
  limit: {type: integer, default: 2}
outputs:
  status: {from: state.order.status}
  second: {from: state.second.id}
tools:)") + kOrderTool + R"(
nodes:
  - id: first
    type: tool
    tool: get_order
    arguments: {order_id: "{{inputs.customer}}-1", limit: "{{inputs.limit}}"}
    output: order
  - id: second
    type: tool
    tool: get_order
    arguments: {order_id: "{{state.order.status}}-{{state.order.query_limit}}"}
    output: second
edges:
  - {from: first, to: second}
)",
                           server.port());
  Executor executor(spec, Options(dir));
  StatusOr<RunResult> r = executor.Start({{"customer", "bob"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  EXPECT_EQ(r->outputs["status"], "shipped");
  EXPECT_EQ(r->state["order"]["id"], "bob-1");
  EXPECT_EQ(r->state["order"]["query_limit"], "2");  // the integer went out as 2
  EXPECT_EQ(r->outputs["second"], "shipped-2");
  EXPECT_EQ(r->steps, 2);
  EXPECT_EQ(server.last_auth_, "Bearer s3cr3t-token");

  RunRecord run = StoredRun(*r);
  EXPECT_EQ(run.status, RunStatus::kFinished);
  EXPECT_EQ(run.outputs, r->outputs);
  EXPECT_EQ(run.inputs, (json{{"customer", "bob"}, {"limit", 2}}));
  EXPECT_EQ(run.workflow_hash.rfind("fnv1a64:", 0), 0u);

  auto store = RunStore::Open(r->run_dir + "/run.sqlite");
  auto last = (*store)->LastNodeCheckpoint();
  ASSERT_TRUE(last.ok() && last->has_value());
  EXPECT_EQ((*last)->step, 2);
  EXPECT_EQ((*last)->node_id, "second");
  EXPECT_EQ((*last)->next_node, "");

  // The trace: whole JSON lines, GenAI names, and never the secret.
  std::vector<json> events = TraceEvents(*r);
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events.front()["event"], "run.start");
  EXPECT_EQ(events.back()["event"], "run.end");
  int tool_events = 0;
  for (const json& e : events) {
    if (e["event"] == "tool.call") {
      ++tool_events;
      EXPECT_EQ(e["gen_ai.tool.name"], "get_order");
      EXPECT_EQ(e["gen_ai.operation.name"], "execute_tool");
      EXPECT_EQ(e["http.response.status_code"], 200);
      EXPECT_EQ(e["qs.attempts"], 1);
    }
    EXPECT_EQ(e.dump().find("s3cr3t"), std::string::npos) << e.dump();
  }
  EXPECT_EQ(tool_events, 2);
}

TEST(Executor, InputsAreChecked) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, std::string(R"(
name: tools
inputs:
  customer: {type: string}
  limit: {type: integer, default: 2}
tools:)") + kOrderTool + R"(
nodes:
  - {id: first, type: tool, tool: get_order, arguments: {order_id: "{{inputs.customer}}"}}
)",
                           server.port());
  Executor executor(spec, Options(dir));
  EXPECT_EQ(executor.Start(json::object()).status().message(), "missing required input 'customer'");
  EXPECT_EQ(executor.Start({{"customer", "a"}, {"limit", "x"}}).status().message(),
            "input 'limit' must be integer, got \"x\"");
  EXPECT_EQ(executor.Start({{"customer", "a"}, {"colour", 1}}).status().message(),
            "unknown input 'colour' (declared: customer, limit)");
  EXPECT_EQ(executor.Resume("../etc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(executor.Resume("20260101T000000Z-abcdef").status().code(), StatusCode::kNotFound);
}

const char kLoop[] = R"(
name: loop
outputs:
  ticks: {from: state.ticks}
state:
  ticks: {reducer: append}
tools:
  - name: count
    description: Count.
    parameters: {type: object, properties: {name: {type: string}}, required: [name]}
    http: {url: "http://127.0.0.1:PORT/count/{name}"}
nodes:
  - {id: tick, type: tool, tool: count, arguments: {name: "tick{{state.ticks.0.name}}"}, output: ticks}
  - id: route
    type: router
    routes:
      - when: {path: state.ticks.2, exists: true}
        to: done
    default: tick
  - {id: done, type: tool, tool: count, arguments: {name: done}, output: finished}
edges:
  - {from: tick, to: route}
)";

TEST(Executor, RouterCycleEndsThroughItsRoute) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kLoop, server.port());
  StatusOr<RunResult> r = Executor(spec, Options(dir)).Start(json::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  EXPECT_EQ(r->steps, 7);  // tick route tick route tick route done
  ASSERT_EQ(r->outputs["ticks"].size(), 3u);
  EXPECT_EQ(r->outputs["ticks"][0]["name"], "tick");
  EXPECT_EQ(r->outputs["ticks"][2]["name"], "ticktick");
  EXPECT_EQ(r->state["finished"]["name"], "done");
}

TEST(Executor, MaxStepsStopsACycleWithAPersistedError) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, std::string(kLoop) + "max_steps: 4\n", server.port());
  StatusOr<RunResult> r = Executor(spec, Options(dir)).Start(json::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->steps, 4);
  EXPECT_NE(r->error.find("stopped after max_steps (4) node runs before node 'tick'"),
            std::string::npos)
      << r->error;
  EXPECT_EQ(server.Calls("/count/tick") + server.Calls("/count/ticktick"), 2);
  RunRecord run = StoredRun(*r);
  EXPECT_EQ(run.status, RunStatus::kFailed);
  EXPECT_EQ(run.error, r->error);
}

std::string MapWorkflow(int max_parallel) {
  return R"(
name: map
inputs:
  ids: {type: array, default: [a, b, c, d, e]}
outputs:
  results: {from: state.results}
tools:
  - name: slow
    description: A slow lookup.
    parameters: {type: object, properties: {id: {type: string}, at: {type: integer}}, required: [id]}
    http: {url: "http://127.0.0.1:PORT/slow/{id}", query: [at]}
nodes:
  - id: all
    type: map
    over: inputs.ids
    node: one
    max_parallel: )" +
         std::to_string(max_parallel) + R"(
    output: results
  - {id: one, type: tool, tool: slow, arguments: {id: "{{item}}", at: "{{index}}"}}
)";
}

TEST(Executor, MapCollectsResultsInItemOrder) {
  for (int max_parallel : {1, 4}) {
    ToolServer server;
    std::string dir = TestDir() + "/" + std::to_string(max_parallel);
    WorkflowSpec spec = Load(dir, MapWorkflow(max_parallel), server.port());
    StatusOr<RunResult> r = Executor(spec, Options(dir)).Start(json::object());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
    EXPECT_EQ(r->steps, 1);  // a map and its items are one step
    EXPECT_EQ(r->outputs["results"],
              (json{{{"id", "a"}}, {{"id", "b"}}, {{"id", "c"}}, {{"id", "d"}}, {{"id", "e"}}}));
    if (max_parallel == 1) {
      EXPECT_EQ(server.max_in_flight_.load(), 1);
    } else {
      EXPECT_GT(server.max_in_flight_.load(), 1);
      EXPECT_LE(server.max_in_flight_.load(), 4);
    }
  }
}

TEST(Executor, StateReducers) {
  ToolServer server;
  std::string dir = TestDir();
  const std::string yaml = R"(
name: reducers
state:
  facts: {reducer: merge, initial: {source: docs}}
  notes: {reducer: append}
  answer: {reducer: overwrite, initial: ""}
tools:
  - name: obj
    description: An object.
    parameters: {type: object, properties: {name: {type: string}}, required: [name]}
    http: {url: "http://127.0.0.1:PORT/obj/{name}"}
  - name: str
    description: A string.
    http: {url: "http://127.0.0.1:PORT/str"}
nodes:
  - {id: f1, type: tool, tool: obj, arguments: {name: x}, output: facts}
  - {id: f2, type: tool, tool: obj, arguments: {name: y}, output: facts}
  - {id: n1, type: tool, tool: obj, arguments: {name: p}, output: notes}
  - {id: n2, type: tool, tool: str, output: notes}
  - {id: a1, type: tool, tool: obj, arguments: {name: q}, output: answer}
  - {id: a2, type: tool, tool: str, output: answer}
  - {id: bad, type: tool, tool: str, output: facts}
edges:
  - {from: f1, to: f2}
  - {from: f2, to: n1}
  - {from: n1, to: n2}
  - {from: n2, to: a1}
  - {from: a1, to: a2}
  - {from: a2, to: bad}
)";
  WorkflowSpec spec = Load(dir, yaml, server.port());
  StatusOr<RunResult> r = Executor(spec, Options(dir)).Start(json::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The last node merges a string into an object key: the run fails, the state before stays.
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->error, "node 'bad' returned string, but state key 'facts' merges objects");
  EXPECT_EQ(r->state["facts"], (json{{"source", "docs"}, {"last", "y"}, {"x", true}, {"y", true}}));
  EXPECT_EQ(r->state["notes"], (json{{{"last", "p"}, {"p", true}}, "just text"}));
  EXPECT_EQ(r->state["answer"], "just text");
  EXPECT_EQ(r->steps, 6);
  EXPECT_EQ(StoredRun(*r).status, RunStatus::kFailed);
}

const char kAgentWorkflow[] = R"(
name: agent
inputs:
  question: {type: string}
outputs:
  answer: {from: state.answer}
tools:
  - name: get_order
    description: Look up an order.
    parameters:
      type: object
      properties: {order_id: {type: string}}
      required: [order_id]
    http: {url: "http://127.0.0.1:PORT/orders/{order_id}", retries: 0}
  - name: broken
    description: Always fails.
    http: {url: "http://127.0.0.1:PORT/always500", retries: 0}
nodes:
  - id: support
    type: agent
    system: You help.
    prompt: "Q: {{inputs.question}}"
    tools: [get_order, broken]
    max_rounds: 3
    answer_schema:
      type: object
      properties: {reply: {type: string}}
      required: [reply]
    output: answer
)";

TEST(Executor, AgentLoopRunsToolsAndFeedsResultsAndErrorsBack) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kAgentWorkflow, server.port());
  ScriptedModel model({
      Calls({{"c1", "get_order", {{"order_id", "A1"}}}, {"", "broken", json::object()}}),
      Calls({{"c3", "get_order", json::object()}, {"c4", "nonexistent", json::object()}}),
      Answer({{"reply", "A1 has shipped"}}),
  });
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "A1?"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  EXPECT_EQ(r->outputs["answer"], (json{{"reply", "A1 has shipped"}}));
  ASSERT_EQ(model.requests.size(), 3u);

  const AgentRequest& first = model.requests[0];
  ASSERT_EQ(first.messages.size(), 2u);
  EXPECT_EQ(first.messages[0].role, "system");
  EXPECT_EQ(first.messages[1].content, "Q: A1?");
  ASSERT_EQ(first.tools.size(), 2u);
  EXPECT_EQ(first.tools[0].name, "get_order");
  EXPECT_EQ(first.answer_schema["required"], json({"reply"}));

  // Round 2 sees both results of round 1, in call order, with their call ids.
  const std::vector<ChatMessage>& m = model.requests[1].messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[2].role, "assistant");
  ASSERT_EQ(m[2].tool_calls.size(), 2u);
  EXPECT_EQ(m[2].tool_calls[1].id, "call_1_1");
  EXPECT_EQ(m[3].role, "tool");
  EXPECT_EQ(m[3].tool_call_id, "c1");
  EXPECT_EQ(json::parse(m[3].content)["status"], "shipped");
  EXPECT_EQ(m[4].name, "broken");
  EXPECT_EQ(json::parse(m[4].content)["error_kind"], "http_status");

  // Round 3 sees the bad arguments and the unknown tool as errors; neither reached the server.
  const std::vector<ChatMessage>& m3 = model.requests[2].messages;
  ASSERT_EQ(m3.size(), 8u);
  EXPECT_EQ(json::parse(m3[6].content)["error_kind"], "bad_arguments");
  EXPECT_NE(m3[6].content.find("order_id"), std::string::npos) << m3[6].content;
  EXPECT_EQ(json::parse(m3[7].content)["error_kind"], "unknown_tool");
  EXPECT_EQ(server.Calls("/orders/A1"), 1);
  EXPECT_EQ(server.Calls("/always500"), 1);
  EXPECT_EQ(server.AllCalls().size(), 2u);

  int generations = 0;
  for (const json& e : TraceEvents(*r)) {
    if (e["event"] != "gen_ai.generation") continue;
    ++generations;
    EXPECT_EQ(e["gen_ai.operation.name"], "chat");
    EXPECT_EQ(e["gen_ai.response.model"], "scripted");
    EXPECT_EQ(e["gen_ai.usage.output_tokens"], 7);
    EXPECT_GT(e["gen_ai.usage.input_tokens"].get<int>(), 0);
  }
  EXPECT_EQ(generations, 3);
}

TEST(Executor, AgentRunsTheCallsOfOneRoundConcurrently) {
  ToolServer server;
  std::string dir = TestDir();
  std::string yaml = kAgentWorkflow;
  yaml.replace(yaml.find("/orders/{order_id}"), 18, "/slow/{order_id}");
  WorkflowSpec spec = Load(dir, yaml, server.port());
  ScriptedModel model({
      Calls({{"", "get_order", {{"order_id", "s1"}}},
             {"", "get_order", {{"order_id", "s2"}}},
             {"", "get_order", {{"order_id", "s3"}}}}),
      Answer({{"reply", "done"}}),
  });
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "go"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  EXPECT_GT(server.max_in_flight_.load(), 1);
  const std::vector<ChatMessage>& m = model.requests[1].messages;
  ASSERT_EQ(m.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(json::parse(m[3 + i].content)["id"], "s" + std::to_string(i + 1));
    EXPECT_EQ(m[3 + i].tool_call_id, "call_1_" + std::to_string(i));
  }
}

TEST(Executor, AgentMaxRoundsIsAFailedRunThatSaysSo) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kAgentWorkflow, server.port());
  ScriptedModel model({Calls({{"", "get_order", {{"order_id", "A1"}}}})});
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "A1?"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_NE(r->error.find("agent node 'support' reached max_rounds (3)"), std::string::npos)
      << r->error;
  EXPECT_EQ(model.requests.size(), 3u);
  EXPECT_EQ(server.Calls("/orders/A1"), 3);
  EXPECT_EQ(StoredRun(*r).status, RunStatus::kFailed);
}

// bind: the workflow sets list_orders' customer from its input; the model never writes it.
const char kBoundWorkflow[] = R"(
name: bound
inputs:
  question: {type: string}
  customer: {type: string, default: ""}
outputs:
  answer: {from: state.answer}
tools:
  - name: list_orders
    description: List an account's orders.
    parameters:
      type: object
      properties:
        customer: {type: string, pattern: "^[a-z]+$"}
        status: {type: string}
      required: [customer]
      additionalProperties: false
    http: {url: "http://127.0.0.1:PORT/orders/all", query: [customer, status], retries: 0}
  - name: get_order
    description: Look up an order.
    parameters:
      type: object
      properties: {order_id: {type: string}}
      required: [order_id]
    http: {url: "http://127.0.0.1:PORT/orders/{order_id}", retries: 0}
nodes:
  - id: support
    type: agent
    prompt: "Q: {{inputs.question}}"
    tools: [list_orders, get_order]
    bind:
      list_orders: {customer: "{{inputs.customer}}"}
    max_rounds: 2
    output: answer
)";

TEST(Executor, BoundArgumentsAreHiddenFromTheModelAndSetOnTheCall) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kBoundWorkflow, server.port());
  // The model asks for another account; the bound value wins.
  ScriptedModel model({
      Calls({{"", "list_orders", {{"customer", "mallory"}, {"status", "open"}}}}),
      Answer("done"),
  });
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model))
                              .Start({{"question", "my orders?"}, {"customer", "alice"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;

  const AgentRequest& first = model.requests[0];
  ASSERT_EQ(first.tools.size(), 2u);
  EXPECT_EQ(first.tools[0].name, "list_orders");
  EXPECT_EQ(first.tools[0].parameters["properties"], (json{{"status", {{"type", "string"}}}}));
  EXPECT_FALSE(first.tools[0].parameters.contains("required")) << first.tools[0].parameters;
  EXPECT_EQ(first.tools[1].parameters, spec.FindTool("get_order")->spec().parameters);
  EXPECT_EQ(first.bound_arguments, (json{{"list_orders", {{"customer", "alice"}}}}));

  // The server got alice; the conversation keeps the call as the model wrote it.
  ASSERT_EQ(server.Calls("/orders/all"), 1);
  const std::vector<ChatMessage>& m = model.requests[1].messages;
  ASSERT_EQ(m.size(), 3u);  // user, assistant, tool: the node has no system message
  EXPECT_EQ(m[1].tool_calls[0].arguments["customer"], "mallory");
  const json result = json::parse(m[2].content);
  EXPECT_EQ(result["query_customer"], "alice") << m[2].content;
  EXPECT_EQ(result["query_status"], "open");
  bool traced = false;
  for (const json& e : TraceEvents(*r)) {
    if (e["event"] == "tool.call") {
      EXPECT_EQ(e["gen_ai.tool.name"], "list_orders");
      traced = true;
    }
  }
  EXPECT_TRUE(traced);
}

TEST(Executor, AToolWhoseBoundValueIsEmptyIsNotOffered) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kBoundWorkflow, server.port());
  ScriptedModel model({
      Calls({{"", "list_orders", {{"status", "open"}}}}),
      Answer("Please tell me your account name."),
  });
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "my orders?"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  ASSERT_EQ(model.requests[0].tools.size(), 1u);
  EXPECT_EQ(model.requests[0].tools[0].name, "get_order");
  EXPECT_EQ(model.requests[0].bound_arguments, json::object());
  // A call to it anyway is an error the model sees; the server is not reached.
  const std::vector<ChatMessage>& m = model.requests[1].messages;
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(json::parse(m[2].content)["error_kind"], "unknown_tool") << m[2].content;
  EXPECT_NE(m[2].content.find("offers no tool named 'list_orders'"), std::string::npos);
  EXPECT_EQ(server.AllCalls().size(), 0u);
}

TEST(Executor, ABoundValueTheParameterRefusesFailsTheNodeNamingTheBind) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kBoundWorkflow, server.port());
  ScriptedModel model({Answer("never asked")});
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model))
                              .Start({{"question", "my orders?"}, {"customer", "Alice"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_NE(r->error.find("agent node 'support': the bound value of 'customer' for tool "
                          "'list_orders' does not fit the parameter"),
            std::string::npos)
      << r->error;
  EXPECT_TRUE(model.requests.empty()) << "the model is not asked with a tool that cannot run";
  EXPECT_EQ(server.AllCalls().size(), 0u);
}

TEST(Executor, WithBoundArgumentsSetsOnlyTheBoundTools) {
  const json bound = {{"list_orders", {{"customer", "alice"}}}};
  std::vector<AgentToolCall> calls = {{"a", "list_orders", json::object()},
                                      {"b", "get_order", {{"order_id", "A1"}}},
                                      {"c", "list_orders", {{"customer", "bob"}, {"x", 1}}}};
  EXPECT_EQ(WithoutParameters(json::parse(R"({"type":"object","properties":{"customer":{},
              "status":{}},"required":["customer","status"]})"),
                              bound["list_orders"]),
            json::parse(R"({"type":"object","properties":{"status":{}},"required":["status"]})"));
  std::vector<AgentToolCall> out = WithBoundArguments(bound, calls);
  EXPECT_EQ(out[0].arguments, (json{{"customer", "alice"}}));
  EXPECT_EQ(out[1].arguments, (json{{"order_id", "A1"}}));
  EXPECT_EQ(out[2].arguments, (json{{"customer", "alice"}, {"x", 1}}));
  EXPECT_EQ(out[2].id, "c");
}

TEST(Executor, AgentWithoutAModelFailsTheRun) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kAgentWorkflow, server.port());
  StatusOr<RunResult> r = Executor(spec, Options(dir)).Start({{"question", "A1?"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->error, "node 'support' needs a model, and none is loaded");
}

TEST(Executor, HumanNodePausesAndResumeContinues) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, std::string(R"(
name: human
outputs:
  decision: {from: state.decision}
  after: {from: state.after.id}
tools:)") + kOrderTool + R"(
nodes:
  - {id: fetch, type: tool, tool: get_order, arguments: {order_id: A7}, output: order}
  - {id: approve, type: human, prompt: "Refund {{state.order.id}}?", output: decision}
  - {id: after, type: tool, tool: get_order, arguments: {order_id: "{{state.decision}}"}, output: after}
edges:
  - {from: fetch, to: approve}
  - {from: approve, to: after}
)",
                           server.port());
  Executor executor(spec, Options(dir));
  StatusOr<RunResult> r = executor.Start(json::object());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kPaused) << r->error;
  EXPECT_EQ(r->paused_node, "approve");
  EXPECT_EQ(r->prompt, "Refund A7?");
  EXPECT_EQ(StoredRun(*r).status, RunStatus::kPaused);

  StatusOr<RunResult> no_input = executor.Resume(r->run_id);
  EXPECT_EQ(no_input.status().code(), StatusCode::kFailedPrecondition);

  // While another process holds the run, resume refuses to start a second copy.
  {
    int fd = open((r->run_dir + "/lock").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
    StatusOr<RunResult> busy = executor.Resume(r->run_id, json("yes"));
    EXPECT_NE(busy.status().message().find("in progress in another process"), std::string::npos)
        << busy.status().ToString();
    close(fd);
  }

  // A fresh executor (as a later `resume` process would have) continues the run.
  StatusOr<RunResult> done = Executor(spec, Options(dir)).Resume(r->run_id, json("yes"));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_EQ(done->status, RunStatus::kFinished) << done->error;
  EXPECT_EQ(done->outputs, (json{{"decision", "yes"}, {"after", "yes"}}));
  EXPECT_EQ(done->steps, 3);
  EXPECT_EQ(server.Calls("/orders/A7"), 1);
  EXPECT_EQ(executor.Resume(r->run_id, json("again")).status().code(),
            StatusCode::kFailedPrecondition);

  // A changed workflow file refuses to resume an old run.
  StatusOr<RunResult> stale = executor.Start(json::object());
  ASSERT_TRUE(stale.ok());
  std::ofstream(dir + "/workflow.yaml", std::ios::app) << "# edited\n";
  EXPECT_EQ(executor.Resume(stale->run_id, json("x")).status().code(),
            StatusCode::kFailedPrecondition);
}

const char kDocsWorkflow[] = R"yaml(
name: docs
inputs:
  question: {type: string}
outputs:
  category: {from: state.triage.category}
  answer: {from: state.answer}
tools:
  - name: search_policies
    retrieve: {folder: docs, k: 2}
nodes:
  - {id: search, type: retrieve, folder: docs, query: "{{inputs.question}}", k: 1, output: passages}
  - {id: search2, type: retrieve, tool: search_policies, query: "{{inputs.question}}", output: passages2}
  - id: classify
    type: llm
    system: You sort questions.
    prompt: "Classify: {{inputs.question}} ({{state.passages.results.0.citation}})"
    schema:
      type: object
      properties: {category: {enum: [returns, other]}}
      required: [category]
    output: triage
  - id: ask
    type: agent
    prompt: "{{inputs.question}}"
    tools: [search_policies]
    output: answer
edges:
  - {from: search, to: search2}
  - {from: search2, to: classify}
  - {from: classify, to: ask}
)yaml";

TEST(Executor, RetrieveNodesLlmNodesAndTheRetrieveToolInAnAgent) {
  ToolServer server;
  std::string dir = TestDir();
  fs::create_directories(dir + "/docs");
  std::ofstream(dir + "/docs/returns.md")
      << "# Returns\n\nItems can be returned within 30 days for a full refund.\n";
  std::ofstream(dir + "/docs/shipping.md") << "# Shipping\n\nParcels ship within two days.\n";
  WorkflowSpec spec = Load(dir, kDocsWorkflow, server.port());
  ScriptedModel model = ScriptedModel::ByNode({
      {"classify", {Answer({{"category", "returns"}})}},
      {"ask",
       {Calls({{"", "search_policies", {{"query", "refund days"}}}}),
        Answer("Within 30 days (returns.md:1-3).")}},
  });
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "refund"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  ASSERT_EQ(r->state["passages"]["results"].size(), 1u);
  EXPECT_EQ(
      r->state["passages"]["results"][0]["citation"].get<std::string>().rfind("returns.md:", 0),
      0u);
  EXPECT_GE(r->state["passages2"]["results"].size(), 1u);
  EXPECT_EQ(r->outputs["category"], "returns");
  EXPECT_EQ(r->outputs["answer"], "Within 30 days (returns.md:1-3).");

  ASSERT_EQ(model.requests.size(), 3u);
  const AgentRequest& classify = model.requests[0];
  EXPECT_EQ(classify.node_id, "classify");
  EXPECT_TRUE(classify.tools.empty());
  EXPECT_EQ(classify.answer_schema["required"], json({"category"}));
  EXPECT_EQ(classify.messages[1].content.rfind("Classify: refund (returns.md:", 0), 0u)
      << classify.messages[1].content;
  const ChatMessage& tool_message = model.requests[2].messages.back();
  EXPECT_EQ(tool_message.role, "tool");
  EXPECT_NE(tool_message.content.find("full refund"), std::string::npos) << tool_message.content;
}

// A customer's question is the retrieve node's query as it stands: a long, polite one (here
// ~700 characters) is searched, not refused.
TEST(Executor, RetrieveNodeSearchesALongQuestion) {
  ToolServer server;
  std::string dir = TestDir();
  fs::create_directories(dir + "/docs");
  std::ofstream(dir + "/docs/returns.md")
      << "# Returns\n\nItems can be returned within 30 days for a full refund.\n";
  WorkflowSpec spec = Load(dir, kDocsWorkflow, server.port());
  ScriptedModel model = ScriptedModel::ByNode({
      {"classify", {Answer({{"category", "returns"}})}},
      {"ask", {Answer("Within 30 days (returns.md:1-3).")}},
  });
  std::string question = "Dear shop, I hope you are well.";
  while (question.size() < 700) question += " I would like to know how a refund works.";
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", question}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, RunStatus::kFinished) << r->error;
  ASSERT_EQ(r->state["passages"]["results"].size(), 1u);
  EXPECT_EQ(r->state["passages"]["results"][0]["citation"], "returns.md:1-3");
}

TEST(Executor, LlmResultOutsideItsSchemaFailsTheRun) {
  ToolServer server;
  std::string dir = TestDir();
  fs::create_directories(dir + "/docs");
  std::ofstream(dir + "/docs/returns.md") << "Returns within 30 days.\n";
  WorkflowSpec spec = Load(dir, kDocsWorkflow, server.port());
  ScriptedModel model({Answer({{"category", "weird"}})});
  StatusOr<RunResult> r = Executor(spec, Options(dir, &model)).Start({{"question", "refund"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_NE(r->error.find("llm node 'classify': the result does not match its schema"),
            std::string::npos)
      << r->error;
  EXPECT_EQ(r->steps, 2);
}

// One tool node calling a failing service: a failed run with the documented error kind,
// persisted, never a crash.
struct Fault {
  std::string name;
  std::string http_block;
  std::string kind;
};

TEST(Executor, HttpFaultsFailTheRunWithTheirKindAndPersistIt) {
  ToolServer server;
  int closed_port;
  {
    ToolServer closed;
    closed_port = closed.port();
  }
  std::vector<Fault> faults = {
      {"status500", "{url: \"http://127.0.0.1:PORT/always500\", retries: 1}", "http_status"},
      {"timeout", "{url: \"http://127.0.0.1:PORT/hang\", timeout_seconds: 0.3, retries: 0}",
       "timeout"},
      {"not_json", "{url: \"http://127.0.0.1:PORT/html\"}", "not_json"},
      {"too_large", "{url: \"http://127.0.0.1:PORT/big\", max_response_bytes: 1000}", "too_large"},
      {"refused", "{url: \"http://127.0.0.1:" + std::to_string(closed_port) + "/x\", retries: 1}",
       "connection"},
      {"not_allowed", "{url: \"http://127.0.0.1:PORT/orders/x\"}", "not_allowed"},
      {"bad_output", "{url: \"http://127.0.0.1:PORT/orders/x\"}", "bad_output"},
  };
  for (const Fault& f : faults) {
    SCOPED_TRACE(f.name);
    std::string dir = TestDir() + "/" + f.name;
    std::string yaml = R"(
name: fault
tools:
  - name: t
    description: A tool.
    http: )" + f.http_block +
                       "\n" + (f.name == "bad_output" ? "    output_schema: {type: array}\n" : "") +
                       R"(
nodes:
  - {id: call, type: tool, tool: t, output: out}
)";
    WorkflowSpec spec = Load(dir, yaml, server.port());
    // The validator rejects hosts off the allow-list, so the runtime check is reached by
    // editing the spec afterwards.
    if (f.name == "not_allowed") spec.tools[0].http.url = "http://example.com/orders";
    StatusOr<RunResult> r = Executor(spec, Options(dir)).Start(json::object());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, RunStatus::kFailed);
    EXPECT_NE(r->error.find("tool node 'call': tool 't' failed (" + f.kind + ")"),
              std::string::npos)
        << r->error;
    RunRecord run = StoredRun(*r);
    EXPECT_EQ(run.status, RunStatus::kFailed);
    EXPECT_EQ(run.error, r->error);
    bool traced = false;
    for (const json& e : TraceEvents(*r)) {
      if (e["event"] == "tool.call") traced = e["error.type"] == f.kind;
    }
    EXPECT_TRUE(traced);
  }
  EXPECT_EQ(server.Calls("/always500"), 2);
}

TEST(Executor, FailedRunResumesFromItsLastCheckpoint) {
  ToolServer server;
  std::string dir = TestDir();
  const std::string yaml = std::string(R"(
name: retry
outputs:
  out: {from: state.out}
tools:)") + kOrderTool + R"(
  - name: maybe
    description: Fails until the path exists.
    http: {url: "http://127.0.0.1:PORT/always500", retries: 0}
nodes:
  - {id: first, type: tool, tool: get_order, arguments: {order_id: B1}, output: order}
  - {id: second, type: tool, tool: maybe, output: out}
edges:
  - {from: first, to: second}
)";
  WorkflowSpec spec = Load(dir, yaml, server.port());
  Executor executor(spec, Options(dir));
  StatusOr<RunResult> r = executor.Start(json::object());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kFailed);
  StatusOr<RunResult> again = executor.Resume(r->run_id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, RunStatus::kFailed);
  EXPECT_EQ(server.Calls("/orders/B1"), 1);  // the completed first node is not repeated
  EXPECT_EQ(server.Calls("/always500"), 2);
}

// The kill test's workflow: a tool node, an agent with three rounds, a map with three items
// and a last tool node: 17 checkpoints in all.
const char kKillWorkflow[] = R"(
name: kill
inputs:
  ids: {type: array, default: [x, y, z]}
outputs:
  first: {from: state.first.name}
  answer: {from: state.answer}
  items: {from: state.items}
  last: {from: state.last.name}
tools:
  - name: count
    description: Count.
    parameters: {type: object, properties: {name: {type: string}}, required: [name]}
    http: {url: "http://127.0.0.1:PORT/count/{name}"}
  - name: get_order
    description: Look up an order.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    http: {url: "http://127.0.0.1:PORT/orders/{order_id}"}
nodes:
  - {id: first, type: tool, tool: count, arguments: {name: first}, output: first}
  - id: support
    type: agent
    prompt: "Check the orders."
    tools: [get_order]
    output: answer
  - {id: each, type: map, over: inputs.ids, node: fetch, output: items}
  - {id: fetch, type: tool, tool: get_order, arguments: {order_id: "item-{{item}}"}}
  - {id: last, type: tool, tool: count, arguments: {name: last}, output: last}
edges:
  - {from: first, to: support}
  - {from: support, to: each}
  - {from: each, to: last}
)";

ScriptedModel KillScript() {
  return ScriptedModel({
      Calls({{"", "get_order", {{"order_id", "A1"}}}}),
      Calls({{"", "get_order", {{"order_id", "A2"}}}}),
      Answer("both shipped"),
  });
}

TEST(Executor, KilledAtEveryCheckpointResumesWithoutRepeatingCompletedCalls) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kKillWorkflow, server.port());

  // The reference: an uninterrupted run.
  ScriptedModel ref_model = KillScript();
  ExecutorOptions ref_options = Options(dir + "/ref", &ref_model);
  int total_commits = 0;
  ref_options.after_checkpoint = [&](const CheckpointEvent& e) { total_commits = e.commits; };
  StatusOr<RunResult> ref = Executor(spec, ref_options).Start(json::object());
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  ASSERT_EQ(ref->status, RunStatus::kFinished) << ref->error;
  EXPECT_EQ(ref->outputs["answer"], "both shipped");
  EXPECT_EQ(ref->outputs["items"][2]["id"], "item-z");
  const std::map<std::string, int> ref_calls = server.AllCalls();
  EXPECT_EQ(ref_calls.size(), 7u);
  EXPECT_EQ(total_commits, 17);

  for (int kill_after = 1; kill_after <= total_commits; ++kill_after) {
    SCOPED_TRACE("killed after checkpoint " + std::to_string(kill_after));
    server.Reset();
    const std::string kill_dir = dir + "/kill" + std::to_string(kill_after);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ScriptedModel model = KillScript();
      ExecutorOptions options = Options(kill_dir, &model);
      options.after_checkpoint = [kill_after](const CheckpointEvent& e) {
        if (e.commits == kill_after) raise(SIGKILL);
      };
      (void)Executor(spec, options).Start(json::object());
      _exit(0);  // not reached when the hook fires
    }
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

    std::vector<std::string> runs;
    for (const auto& entry : fs::directory_iterator(kill_dir + "/runs")) {
      runs.push_back(entry.path().filename().string());
    }
    ASSERT_EQ(runs.size(), 1u);
    ScriptedModel model = KillScript();
    StatusOr<RunResult> resumed = Executor(spec, Options(kill_dir, &model)).Resume(runs[0]);
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    ASSERT_EQ(resumed->status, RunStatus::kFinished) << resumed->error;
    EXPECT_EQ(resumed->outputs, ref->outputs);
    EXPECT_EQ(resumed->steps, ref->steps);
    EXPECT_EQ(server.AllCalls(), ref_calls);  // every call exactly once, child and parent

    // The trace holds whole lines from both processes, the resume in between.
    std::vector<json> events = TraceEvents(*resumed);  // throws on a torn line
    int starts = 0, resumes = 0;
    for (const json& e : events) {
      starts += e["event"] == "run.start";
      resumes += e["event"] == "run.resume";
    }
    EXPECT_EQ(starts, 1);
    EXPECT_EQ(resumes, 1);
    EXPECT_EQ(events.back()["event"], "run.end");
  }
}

// A human pause and a parallel map, killed at every checkpoint. A map item still in flight
// when the process dies has not completed, so its call may run again; a completed one never.
const char kKillPauseWorkflow[] = R"(
name: kill_pause
inputs:
  ids: {type: array, default: [p, q, r, s]}
outputs:
  decision: {from: state.decision}
  items: {from: state.items}
tools:
  - name: count
    description: Count.
    parameters: {type: object, properties: {name: {type: string}}, required: [name]}
    http: {url: "http://127.0.0.1:PORT/count/{name}"}
  - name: get_order
    description: Look up an order.
    parameters: {type: object, properties: {order_id: {type: string}}, required: [order_id]}
    http: {url: "http://127.0.0.1:PORT/orders/{order_id}"}
nodes:
  - {id: first, type: tool, tool: count, arguments: {name: first}, output: first}
  - {id: approve, type: human, prompt: "Go?", output: decision}
  - {id: each, type: map, over: inputs.ids, node: fetch, max_parallel: 2, output: items}
  - {id: fetch, type: tool, tool: get_order, arguments: {order_id: "{{state.decision}}-{{item}}"}}
  - {id: last, type: tool, tool: count, arguments: {name: last}, output: last}
edges:
  - {from: first, to: approve}
  - {from: approve, to: each}
  - {from: each, to: last}
)";

TEST(Executor, KilledAroundAPauseAndAParallelMapResumes) {
  ToolServer server;
  std::string dir = TestDir();
  WorkflowSpec spec = Load(dir, kKillPauseWorkflow, server.port());
  // Runs to the end, answering the pause with "go".
  auto run_through = [&](ExecutorOptions options) -> StatusOr<RunResult> {
    Executor executor(spec, std::move(options));
    StatusOr<RunResult> r = executor.Start(json::object());
    if (r.ok() && r->status == RunStatus::kPaused) r = executor.Resume(r->run_id, json("go"));
    return r;
  };
  int total_commits = 0;
  ExecutorOptions ref_options = Options(dir + "/ref");
  ref_options.after_checkpoint = [&](const CheckpointEvent&) { ++total_commits; };
  StatusOr<RunResult> ref = run_through(ref_options);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  ASSERT_EQ(ref->status, RunStatus::kFinished) << ref->error;
  EXPECT_EQ(ref->outputs["items"][3]["id"], "go-s");
  EXPECT_EQ(total_commits, 14);  // 2 + 1 + (4 calls + 4 items + 1) + 2

  for (int kill_after = 1; kill_after <= total_commits; ++kill_after) {
    SCOPED_TRACE("killed after checkpoint " + std::to_string(kill_after));
    server.Reset();
    const std::string kill_dir = dir + "/kill" + std::to_string(kill_after);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ExecutorOptions options = Options(kill_dir);
      auto commits = std::make_shared<std::atomic<int>>(0);
      options.after_checkpoint = [kill_after, commits](const CheckpointEvent&) {
        if (++*commits == kill_after) raise(SIGKILL);
      };
      (void)run_through(options);
      _exit(0);
    }
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

    std::vector<std::string> runs;
    for (const auto& entry : fs::directory_iterator(kill_dir + "/runs")) {
      runs.push_back(entry.path().filename().string());
    }
    ASSERT_EQ(runs.size(), 1u);
    Executor executor(spec, Options(kill_dir));
    StatusOr<RunResult> resumed = executor.Resume(runs[0]);
    if (!resumed.ok() && resumed.status().code() == StatusCode::kFailedPrecondition) {
      resumed = executor.Resume(runs[0], json("go"));  // it died while paused
    } else if (resumed.ok() && resumed->status == RunStatus::kPaused) {
      resumed = executor.Resume(runs[0], json("go"));  // it died before the pause
    }
    ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
    ASSERT_EQ(resumed->status, RunStatus::kFinished) << resumed->error;
    EXPECT_EQ(resumed->outputs, ref->outputs);
    EXPECT_EQ(server.Calls("/count/first"), 1);
    EXPECT_EQ(server.Calls("/count/last"), 1);
    int item_calls = 0;
    for (const char* id : {"p", "q", "r", "s"}) {
      int calls = server.Calls(std::string("/orders/go-") + id);
      EXPECT_GE(calls, 1) << id;
      item_calls += calls;
    }
    EXPECT_LE(item_calls, 5);  // at most the one item in flight beside the committed one
  }
}

}  // namespace
}  // namespace qs::workflows
