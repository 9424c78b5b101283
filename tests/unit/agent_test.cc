// The agent protocol (runtime/agent/agent_protocol.h) against the grammar and the validator,
// and constrained turns of DiffusionAgentModel over a random model (validity must come from
// the constraint alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "model/bench.h"
#include "model/tokenizer/chat_format.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/agent/agent_protocol.h"
#include "runtime/agent/context_values.h"
#include "runtime/agent/diffusion_agent.h"
#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/schema_constraint.h"
#include "runtime/structured/token_matcher.h"

namespace qs::agent {
namespace {

using nlohmann::json;

std::vector<tools::ToolSpec> ShopTools() {
  return {
      {"get_order", "Look up one order by id.",
       json::parse(R"({"type":"object","properties":{"order_id":{"type":"string",
         "pattern":"^[A-Z][0-9]{4}$"}},"required":["order_id"],"additionalProperties":false})")},
      {"list_orders", "List a customer's orders.",
       json::parse(R"({"type":"object","properties":{"customer":{"type":"string","maxLength":20},
         "limit":{"type":"integer","minimum":1,"maximum":50}},"required":["customer"],
         "additionalProperties":false})")},
      {"track_shipment", "Track a shipment.",
       json::parse(R"({"type":"object","properties":{"tracking_id":{"type":"string",
         "maxLength":16}},"required":["tracking_id"],"additionalProperties":false})")},
  };
}

// A conversation with values in every place the agent reads from, and one it must not.
std::vector<workflows::ChatMessage> ShopConversation() {
  return {
      {"system", "You help customers. Example order: Z9999.", {}, "", ""},
      {"user", "Where is my order A1001? I am bob, thanks!", {}, "", ""},
      {"assistant", "", {{"call_1", "get_order", {{"order_id", "A1001"}}}}, "", ""},
      {"tool",
       R"({"order_id":"A1001","tracking_id":"TRK-5521","note":"Shipped today. Arrives soon!\nCall us."})",
       {},
       "call_1",
       "get_order"},
  };
}

struct Compiled {
  std::optional<json_schema::Schema> schema;
  std::shared_ptr<const structured::JsonGrammar> grammar;
};

Compiled CompileTurn(const std::vector<tools::ToolSpec>& tools, const json& answer_schema) {
  StatusOr<nlohmann::ordered_json> turn = TurnSchema(tools, answer_schema);
  EXPECT_TRUE(turn.ok()) << turn.status().ToString();
  StatusOr<json_schema::Schema> schema = json_schema::Compile(*turn);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString() << "\n" << turn->dump(2);
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kGenerate);
  EXPECT_TRUE(grammar.ok()) << grammar.status().ToString();
  return {std::move(schema).value(), *grammar};
}

// Whether the generating grammar writes exactly `text` as a complete turn.
bool GrammarAccepts(const Compiled& c, const std::string& text) {
  structured::JsonMatcher m(c.grammar);
  return m.AdvanceBytes(text) && m.IsComplete();
}

TEST(AgentProtocolTest, RenderedTurnsAreWhatTheGrammarGenerates) {
  const std::vector<tools::ToolSpec> tools = ShopTools();
  const json answer_schema = json::parse(R"({"type":"object","properties":{"answer":{"type":
    "string"},"citations":{"type":"array","items":{"type":"string"},"minItems":1}},
    "required":["answer","citations"],"additionalProperties":false})");
  Compiled c = CompileTurn(tools, answer_schema);

  const std::string one = ToolCallsText({{"", "get_order", {{"order_id", "A1001"}}}}, tools);
  EXPECT_EQ(one, R"({"tool":"get_order","arguments":{"order_id":"A1001"}})");
  EXPECT_TRUE(GrammarAccepts(c, one));
  const std::string two = ToolCallsText({{"", "list_orders", {{"limit", 3}, {"customer", "bob"}}},
                                         {"", "track_shipment", {{"tracking_id", "TRK-1"}}}},
                                        tools);
  EXPECT_EQ(two, R"([{"tool":"list_orders","arguments":{"customer":"bob","limit":3}},)"
                 R"({"tool":"track_shipment","arguments":{"tracking_id":"TRK-1"}}])");
  EXPECT_TRUE(GrammarAccepts(c, two));
  const std::string answer =
      AnswerText({{"citations", {"returns.md:1-4"}}, {"answer", "30 days."}}, answer_schema);
  EXPECT_EQ(answer, R"({"answer":{"answer":"30 days.","citations":["returns.md:1-4"]}})");
  EXPECT_TRUE(GrammarAccepts(c, answer));
  for (const std::string& text : {one, two, answer}) {
    EXPECT_TRUE(json_schema::Validate(*c.schema, json::parse(text)).ok()) << text;
  }

  // What the schema forbids, the grammar does not write.
  EXPECT_FALSE(GrammarAccepts(c, R"({"tool":"get_order","arguments":{"order_id":"a1"}})"));
  EXPECT_FALSE(GrammarAccepts(c, R"({"tool":"delete_order","arguments":{}})"));
  EXPECT_FALSE(GrammarAccepts(c, R"({"tool":"get_order","arguments":{}})"));
  EXPECT_FALSE(GrammarAccepts(c, R"({"answer":"plain text"})"));
  EXPECT_FALSE(GrammarAccepts(c, R"([{"tool":"get_order","arguments":{"order_id":"A1001"}}])"))
      << "a list holds two calls or more";
}

TEST(AgentProtocolTest, AnswerIsAStringWithoutSchemaAndNoToolsMeansAnswerOnly) {
  Compiled c = CompileTurn({}, json());
  EXPECT_TRUE(GrammarAccepts(c, AnswerText("Hello \"you\"\n", json())));
  EXPECT_FALSE(GrammarAccepts(c, R"({"tool":"get_order","arguments":{}})"));
}

TEST(AgentProtocolTest, RecursiveToolSchemaRefsAreMoved) {
  tools::ToolSpec tree{"make_tree", "A tree.", json::parse(R"({"type":"object",
    "properties":{"name":{"$ref":"#/$defs/label"},"children":{"type":"array","maxItems":2,
    "items":{"$ref":"#"}}},"required":["name"],"additionalProperties":false,
    "$defs":{"label":{"type":"string","maxLength":5}}})")};
  Compiled c = CompileTurn({tree}, json());
  const std::string text = ToolCallsText(
      {{"", "make_tree", json::parse(R"({"name":"a","children":[{"name":"b"}]})")}}, {tree});
  EXPECT_TRUE(GrammarAccepts(c, text)) << text;
  EXPECT_FALSE(GrammarAccepts(
      c, R"({"tool":"make_tree","arguments":{"name":"a","children":[{"name":"toolong"}]}})"));
  tree.parameters["$id"] = "https://example.com/tree";
  StatusOr<nlohmann::ordered_json> with_id = TurnSchema({tree}, json());
  ASSERT_FALSE(with_id.ok());
  EXPECT_NE(with_id.status().message().find("make_tree"), std::string::npos);
}

TEST(AgentProtocolTest, ParseTurn) {
  StatusOr<workflows::AgentResponse> one =
      ParseTurn(R"({"tool":"get_order","arguments":{"order_id":"A1001"}})");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->tool_calls.size(), 1u);
  EXPECT_EQ(one->tool_calls[0].tool, "get_order");
  EXPECT_EQ(one->tool_calls[0].arguments["order_id"], "A1001");
  EXPECT_FALSE(one->answer);
  StatusOr<workflows::AgentResponse> two =
      ParseTurn(R"([{"tool":"a","arguments":{}},{"tool":"b","arguments":{"x":1}}])");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->tool_calls.size(), 2u);
  StatusOr<workflows::AgentResponse> answer = ParseTurn(R"({"answer":{"x":[1,2]}})");
  ASSERT_TRUE(answer.ok());
  ASSERT_TRUE(answer->answer);
  EXPECT_EQ((*answer->answer)["x"][1], 2);
  for (const char* bad : {"", "{", "[]", R"({"tool":3})", R"({"say":"hi"})", "42"}) {
    StatusOr<workflows::AgentResponse> r = ParseTurn(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(AgentProtocolTest, ConversationForTheChatFormat) {
  workflows::AgentRequest request;
  request.tools = ShopTools();
  request.messages = {{"system", "You help shoppers.", {}, "", ""},
                      {"user", "Where is A1001?", {}, "", ""},
                      {"assistant", "", {{"c1", "get_order", {{"order_id", "A1001"}}}}, "", ""},
                      {"tool", R"({"status":"shipped"})", {}, "c1", "get_order"}};
  std::vector<model::ChatMessage> chat = ChatMessages(request);
  ASSERT_EQ(chat.size(), 4u);
  EXPECT_EQ(chat[0].role, "system");
  // Flat tool schemas are listed as signatures.
  EXPECT_EQ(chat[0].content.rfind("You help shoppers.\n\nTools:\n"
                                  "- get_order(order_id: string matching ^[A-Z][0-9]{4}$): "
                                  "Look up one order by id.\n"
                                  "- list_orders(customer: string length <= 20; limit?: integer "
                                  "1..50): List a customer's orders.\n"
                                  "- track_shipment(tracking_id: string length <= 16): Track a "
                                  "shipment.\n",
                                  0),
            0u)
      << chat[0].content;
  EXPECT_EQ(chat[2].role, "assistant");
  EXPECT_EQ(chat[2].content, R"({"tool":"get_order","arguments":{"order_id":"A1001"}})");
  EXPECT_EQ(chat[3].role, "tool");
  const std::string prompt = model::ChatFormat::ChatMl().Render(chat);
  EXPECT_NE(prompt.find("<|im_start|>user\n<tool_response>\n{\"status\":\"shipped\"}"),
            std::string::npos)
      << prompt;
  EXPECT_EQ(prompt.substr(prompt.size() - 22), "<|im_start|>assistant\n");
}

// Schemas that a signature cannot say (nested objects, open objects, arrays) are listed as
// compact JSON; descriptions, enums and formats of flat ones go into the signature.
TEST(AgentProtocolTest, SystemPromptListsEveryToolSchema) {
  const std::vector<tools::ToolSpec> tools = {
      {"search", "Search.", json::parse(R"({"type":"object","properties":{"query":{"type":"string",
         "description":"Words to look for"},"since":{"type":"string","format":"date"},
         "sort":{"enum":["new","old"]}},"required":["query"],"additionalProperties":false})")},
      {"create", "Create.", json::parse(R"({"type":"object","properties":{"tags":{"type":"array",
         "items":{"type":"string"}}},"additionalProperties":false})")},
      {"open", "", json::parse(R"({"type":"object","properties":{"x":{"type":"number"}}})")},
  };
  const std::string prompt = SystemPrompt("Be brief.", tools, json());
  EXPECT_NE(prompt.find("- search(query: string - Words to look for; since?: string (date); "
                        "sort?: \"new\"|\"old\"): Search.\n"),
            std::string::npos)
      << prompt;
  EXPECT_NE(prompt.find("- create: Create. Parameters: {\"additionalProperties\":false,"
                        "\"properties\":{\"tags\":{\"items\":{\"type\":\"string\"},"
                        "\"type\":\"array\"}},\"type\":\"object\"}\n"),
            std::string::npos)
      << prompt;
  EXPECT_NE(prompt.find("- open:  Parameters: {\"properties\""), std::string::npos) << prompt;
}

// The compact style lists the tools by name only; without tools it is the full prompt.
TEST(AgentProtocolTest, CompactSystemPromptNamesTheToolsOnly) {
  EXPECT_EQ(SystemPrompt("Be brief.", ShopTools(), json(), PromptStyle::kCompact),
            "Tools: get_order, list_orders, track_shipment.");
  EXPECT_EQ(SystemPrompt("Be brief.", {}, json(), PromptStyle::kCompact),
            SystemPrompt("Be brief.", {}, json(), PromptStyle::kFull));
  ASSERT_TRUE(ParsePromptStyle("compact").ok());
  StatusOr<PromptStyle> bad = ParsePromptStyle("terse");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("use full or compact"), std::string::npos);
}

// A checkpoint's tokenizer_config.json picks the style ("quicksilver_agent_prompt"); a bad
// value fails the load naming the file.
TEST(DiffusionAgentModelTest, CheckpointChoosesItsPromptStyle) {
  const std::string tokenizer_dir = std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2";
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(tokenizer_dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  const std::string dir = std::string(QS_BINARY_DIR) + "/agent_test_prompt_style";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(model::WriteRandomCheckpoint(RandomConfigFor(**tokenizer), 1, dir, "bfloat16").ok());
  std::filesystem::copy_file(tokenizer_dir + "/tokenizer.json", dir + "/tokenizer.json");
  auto write_style = [&](const json& style) {
    std::ofstream(dir + "/tokenizer_config.json", std::ios::trunc)
        << json{{"quicksilver_agent_prompt", style}}.dump();
  };
  workflows::AgentRequest request;
  request.messages.resize(2);
  request.messages[0].role = "system";
  request.messages[0].content = "You are the shop's assistant.";
  request.messages[1].role = "user";
  request.messages[1].content = "Where is A1001?";
  request.tools = ShopTools();

  write_style("compact");
  StatusOr<std::unique_ptr<DiffusionAgentModel>> compact = DiffusionAgentModel::Load(dir);
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  const std::string prompt = (*compact)->PromptText(request);
  // No chat_template: LLaDA's (Llama 3) chat format; the system message is the tool names.
  EXPECT_NE(prompt.find("system<|end_header_id|>\n\nTools: get_order, list_orders, "
                        "track_shipment.<|eot_id|>"),
            std::string::npos)
      << prompt;
  EXPECT_EQ(prompt.find("shop's assistant"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("Where is A1001?"), std::string::npos) << prompt;

  std::filesystem::remove(dir + "/tokenizer_config.json");  // absent: full
  StatusOr<std::unique_ptr<DiffusionAgentModel>> full = DiffusionAgentModel::Load(dir);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_NE((*full)->PromptText(request).find("You are the shop's assistant."), std::string::npos);

  write_style("terse");
  StatusOr<std::unique_ptr<DiffusionAgentModel>> bad = DiffusionAgentModel::Load(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("tokenizer_config.json: unknown agent prompt style"),
            std::string::npos)
      << bad.status().message();
}

// A random model over Qwen2's 151k vocabulary: the constraint alone makes every turn valid.
TEST(DiffusionAgentModelTest, RandomModelTurnsAreAlwaysValid) {
  StatusOr<std::unique_ptr<DiffusionAgentModel>> model =
      DiffusionAgentModel::Random(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2", 3);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<tools::ToolSpec> tools = ShopTools();
  Compiled c = CompileTurn(tools, json());
  workflows::ModelSpec spec;
  spec.gen_length = 48;
  spec.steps = 48;
  spec.block_length = 16;
  spec.temperature = 1.0;
  workflows::AgentRequest request;
  request.node_id = "support";
  request.tools = tools;
  request.model = &spec;
  request.messages = {{"user", "Where is my order A1001?", {}, "", ""}};
  int calls = 0, answers = 0;
  for (int seed = 1; seed <= 6; ++seed) {
    spec.seed = seed;
    StatusOr<workflows::AgentResponse> r = (*model)->Generate(request);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::string text = (*model)->last_turn().text;
    EXPECT_TRUE(json_schema::Validate(*c.schema, json::parse(text)).ok()) << text;
    EXPECT_EQ(r->answer.has_value(), r->tool_calls.empty()) << text;
    for (const workflows::AgentToolCall& call : r->tool_calls) {
      bool known = false;
      for (const tools::ToolSpec& t : tools) known = known || t.name == call.tool;
      EXPECT_TRUE(known) << text;
    }
    (r->answer ? answers : calls) += 1;
    EXPECT_GT(r->stats.input_tokens, 50);
    EXPECT_GT(r->stats.output_tokens, 5);
    EXPECT_GT(r->stats.denoising_steps, 0);
    EXPECT_GT(r->stats.forced_tokens, 0) << "the JSON skeleton is forced";
  }
  EXPECT_EQ(calls + answers, 6);
}

TEST(DiffusionAgentModelTest, ReadDraftKeepsTheLongestValidPrefixOfWholeTokens) {
  StatusOr<std::unique_ptr<model::Tokenizer>> tok =
      model::Tokenizer::Load(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2");
  ASSERT_TRUE(tok.ok());
  const std::vector<std::string> bytes = TokenBytesForGrammar(**tok);
  std::vector<tools::ToolSpec> tools = ShopTools();
  tools[0].parameters["properties"]["order_id"]["x-from-context"] = "words";
  StatusOr<nlohmann::ordered_json> turn = TurnSchema(tools, json());
  ASSERT_TRUE(turn.ok());
  ASSERT_TRUE(ResolveContextValues(ShopConversation(), &*turn).ok());
  StatusOr<json_schema::Schema> schema = json_schema::Compile(*turn);
  ASSERT_TRUE(schema.ok());
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kGenerate);
  ASSERT_TRUE(grammar.ok());

  // A complete valid turn: all of it; tokens after it are not read.
  const std::string call = R"({"tool":"get_order","arguments":{"order_id":"A1001"}})";
  std::vector<int32_t> ids = (*tok)->Encode(call + " and more");
  DraftPrefix d = ReadDraft(*grammar, bytes, ids);
  EXPECT_TRUE(d.complete);
  EXPECT_EQ(d.bytes, call);
  EXPECT_EQ(d.tokens, (*tok)->Encode(call).size());

  // An id that is not in the conversation: the prefix stops at the first token that leaves
  // the enum, on a token boundary.
  ids = (*tok)->Encode(R"({"tool":"get_order","arguments":{"order_id":"A1002"}})");
  d = ReadDraft(*grammar, bytes, ids);
  EXPECT_FALSE(d.complete);
  EXPECT_EQ(d.bytes.rfind(R"({"tool":"get_order","arguments":{"order_id":")", 0), 0u) << d.bytes;
  EXPECT_LT(d.bytes.size(),
            std::string(R"({"tool":"get_order","arguments":{"order_id":"A1002)").size());
  EXPECT_EQ(d.bytes, (*tok)->Decode(std::vector<int32_t>(ids.begin(), ids.begin() + d.tokens)));

  // Free text and special tokens end it at once.
  EXPECT_EQ(ReadDraft(*grammar, bytes, (*tok)->Encode("Sure! {\"tool\"")).tokens, 0u);
  EXPECT_EQ(ReadDraft(*grammar, bytes, {(*tok)->TokenId("<|im_end|>")}).tokens, 0u);
  EXPECT_EQ(ReadDraft(*grammar, bytes, {static_cast<int32_t>(bytes.size()) + 5}).tokens, 0u);
}

TEST(DiffusionAgentModelTest, DraftedTurnsAreValidToo) {
  StatusOr<std::unique_ptr<DiffusionAgentModel>> model =
      DiffusionAgentModel::Random(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2", 4);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const std::vector<tools::ToolSpec> tools = ShopTools();
  Compiled c = CompileTurn(tools, json());
  for (bool draft : {true, false}) {
    workflows::ModelSpec spec;
    spec.gen_length = 48;
    spec.steps = 24;
    spec.block_length = 16;
    spec.threshold = 0.9;
    spec.temperature = 1.0;
    spec.draft = draft;
    workflows::AgentRequest request;
    request.node_id = "support";
    request.tools = tools;
    request.model = &spec;
    request.messages = {{"user", "Where is my order A1001?", {}, "", ""}};
    int64_t repredicted = 0;
    for (int seed = 1; seed <= 4; ++seed) {
      spec.seed = seed;
      StatusOr<workflows::AgentResponse> r = (*model)->Generate(request);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const std::string text = (*model)->last_turn().text;
      EXPECT_TRUE(json_schema::Validate(*c.schema, json::parse(text)).ok()) << text;
      EXPECT_GT(r->stats.model_calls, 0);
      const TurnReport& turn = (*model)->last_turn();
      EXPECT_LE(turn.draft_repredicted,
                static_cast<int64_t>(DiffusionAgentModel::kRepredictedDraftTokens));
      if (turn.draft_complete || !draft) {
        EXPECT_EQ(turn.draft_repredicted, 0);
      }
      repredicted += turn.draft_repredicted;
    }
    // A random model's drafts are rarely valid turns: their starts get re-predicted under
    // the grammar, and the turns stay valid.
    if (draft) {
      EXPECT_GT(repredicted, 0);
    }
  }
}

TEST(DiffusionAgentModelTest, BudgetsFailBeforeGenerating) {
  StatusOr<std::unique_ptr<DiffusionAgentModel>> model =
      DiffusionAgentModel::Random(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2", 1);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  workflows::ModelSpec spec;
  spec.gen_length = 4;  // {"answer":""} needs more
  spec.steps = 4;
  workflows::AgentRequest request;
  request.node_id = "n";
  request.model = &spec;
  request.messages = {{"user", "hi", {}, "", ""}};
  StatusOr<workflows::AgentResponse> r = (*model)->Generate(request);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gen_length"), std::string::npos) << r.status().message();

  spec.gen_length = 32;
  spec.steps = 32;
  spec.max_tokens = 40;
  r = (*model)->Generate(request);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_tokens = 40"), std::string::npos)
      << r.status().message();
}

TEST(ContextValuesTest, WordsAndSentencesComeFromUserMessagesAndToolResults) {
  const std::vector<std::string> texts = ContextTexts(ShopConversation());
  const std::vector<std::string> words = ContextWords(texts);
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (const char* w : {"Where", "A1001", "bob", "TRK-5521", "Call"}) {
    EXPECT_TRUE(has(words, w)) << w;
  }
  EXPECT_FALSE(has(words, "Z9999")) << "the system message is not the conversation";
  EXPECT_FALSE(has(words, "A1001?")) << "end punctuation is trimmed";
  EXPECT_FALSE(has(words, "order_id")) << "JSON keys are not values";
  EXPECT_EQ(std::count(words.begin(), words.end(), "A1001"), 1) << "distinct";
  const std::vector<std::string> sentences = ContextSentences(texts);
  EXPECT_EQ(sentences, (std::vector<std::string>{"Where is my order A1001?", "I am bob, thanks!",
                                                 "Shipped today.", "Arrives soon!", "Call us."}))
      << "ids and citations (one word each) are no sentences";
}

TEST(ContextValuesTest, KeywordBecomesTheEnumOfAcceptedCandidates) {
  nlohmann::ordered_json schema = nlohmann::ordered_json::parse(R"({"type":"object","properties":{
    "order_id":{"type":"string","pattern":"^[A-Z][0-9]{4}$","x-from-context":"words"},
    "tracking_id":{"type":"string","pattern":"^TRK-[0-9]{4,6}$","x-from-context":"words"},
    "note":{"type":"string","x-from-context":"sentences","maxLength":14},
    "x-from-context":{"type":"string"}}})");
  ASSERT_TRUE(ResolveContextValues(ShopConversation(), &schema).ok());
  const auto& p = schema["properties"];
  EXPECT_EQ(json::parse(p["order_id"]["enum"].dump()), json::array({"A1001"}));
  EXPECT_EQ(json::parse(p["tracking_id"]["enum"].dump()), json::array({"TRK-5521"}));
  EXPECT_EQ(json::parse(p["note"]["enum"].dump()),
            json::array({"Shipped today.", "Arrives soon!", "Call us."}));
  EXPECT_FALSE(p["order_id"].contains("x-from-context"));
  EXPECT_EQ(json::parse(p["x-from-context"].dump()), json::parse(R"({"type":"string"})"))
      << "a property, untouched";

  // Nothing in the conversation fits: the keyword goes, the value is free within its schema.
  nlohmann::ordered_json none = nlohmann::ordered_json::parse(
      R"({"type":"string","pattern":"^[0-9]{9}$","x-from-context":"words"})");
  ASSERT_TRUE(ResolveContextValues(ShopConversation(), &none).ok());
  EXPECT_EQ(none, nlohmann::ordered_json::parse(R"({"type":"string","pattern":"^[0-9]{9}$"})"));

  nlohmann::ordered_json bad = nlohmann::ordered_json::parse(
      R"({"properties":{"a/b":{"type":"string","x-from-context":"word"}}})");
  Status s = ResolveContextValues(ShopConversation(), &bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "/properties/a~1b/x-from-context: must be \"words\" or \"sentences\", got \"word\"");
}

TEST(ContextValuesTest, TheGrammarOnlyWritesValuesFromTheConversation) {
  std::vector<tools::ToolSpec> tools = ShopTools();
  tools[0].parameters["properties"]["order_id"]["x-from-context"] = "words";
  const json answer_schema = json::parse(R"({"type":"object","properties":{
    "answer":{"anyOf":[{"type":"string","x-from-context":"sentences"},
                       {"const":"The documents do not say; I do not know."}]}},
    "required":["answer"],"additionalProperties":false})");
  StatusOr<nlohmann::ordered_json> turn = TurnSchema(tools, answer_schema);
  ASSERT_TRUE(turn.ok());
  ASSERT_TRUE(ResolveContextValues(ShopConversation(), &*turn).ok());
  StatusOr<json_schema::Schema> schema = json_schema::Compile(*turn);
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kGenerate);
  ASSERT_TRUE(grammar.ok()) << grammar.status().ToString();
  Compiled c{std::move(schema).value(), *grammar};
  EXPECT_TRUE(GrammarAccepts(c, R"({"tool":"get_order","arguments":{"order_id":"A1001"}})"));
  EXPECT_FALSE(GrammarAccepts(c, R"({"tool":"get_order","arguments":{"order_id":"A1002"}})"));
  EXPECT_TRUE(GrammarAccepts(c, R"({"answer":{"answer":"Shipped today."}})"));
  EXPECT_TRUE(
      GrammarAccepts(c, R"({"answer":{"answer":"The documents do not say; I do not know."}})"));
  EXPECT_FALSE(GrammarAccepts(c, R"({"answer":{"answer":"Shipped yesterday."}})"));
}

TEST(ContextValuesTest, AToolWhoseRequiredValueHasNoCandidateIsNotOffered) {
  std::vector<tools::ToolSpec> tools = ShopTools();
  tools[0].parameters["properties"]["order_id"]["x-from-context"] = "words";
  tools[2].parameters["properties"]["tracking_id"]["pattern"] = "^TRK-[0-9]{4,6}$";
  tools[2].parameters["properties"]["tracking_id"]["x-from-context"] = "words";
  auto names = [](const std::vector<tools::ToolSpec>& list) {
    std::vector<std::string> out;
    for (const tools::ToolSpec& t : list) out.push_back(t.name);
    return out;
  };
  // The shop conversation holds an order id and a tracking id: every tool can be called.
  StatusOr<std::vector<tools::ToolSpec>> all = CallableTools(ShopConversation(), tools);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(names(*all), (std::vector<std::string>{"get_order", "list_orders", "track_shipment"}));
  EXPECT_EQ((*all)[0].parameters, tools[0].parameters) << "offered unchanged";

  // An off-topic question: no id to copy, so only list_orders (no x-from-context) is left.
  const std::vector<workflows::ChatMessage> chat = {
      {"system", "Example order: Z9999, parcel TRK-1234.", {}, "", ""},
      {"user", "Could you recommend a cafe near me?", {}, "", ""}};
  StatusOr<std::vector<tools::ToolSpec>> some = CallableTools(chat, tools);
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(names(*some), (std::vector<std::string>{"list_orders"}));

  // An optional parameter without candidates leaves the tool offered.
  tools[1].parameters["properties"]["limit"] =
      json::parse(R"({"type":"string","pattern":"^[0-9]{9}$","x-from-context":"words"})");
  some = CallableTools(chat, tools);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(names(*some), (std::vector<std::string>{"list_orders"}));

  tools[1].parameters["properties"]["customer"]["x-from-context"] = "name";
  EXPECT_EQ(CallableTools(chat, tools).status().code(), StatusCode::kInvalidArgument);
}

TEST(DiffusionAgentModelTest, RandomModelCopiesTheOnlyIdInTheConversation) {
  StatusOr<std::unique_ptr<DiffusionAgentModel>> model =
      DiffusionAgentModel::Random(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2", 5);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<tools::ToolSpec> tools = ShopTools();
  tools.resize(1);  // get_order only
  tools[0].parameters["properties"]["order_id"]["x-from-context"] = "words";
  workflows::ModelSpec spec;
  spec.gen_length = 64;  // room for one call, not for two, nor for the long answer
  spec.steps = 64;
  spec.temperature = 1.0;
  workflows::AgentRequest request;
  request.node_id = "support";
  request.tools = tools;
  request.answer_schema = json::parse(R"({"type":"string","minLength":100})");
  request.model = &spec;
  request.messages = {{"user", "Is order B7310 late? Not A1001, that one came.", {}, "", ""}};
  int calls = 0;
  std::set<std::string> ids;
  for (int seed = 1; seed <= 8; ++seed) {
    spec.seed = seed;
    StatusOr<workflows::AgentResponse> r = (*model)->Generate(request);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (const workflows::AgentToolCall& call : r->tool_calls) {
      ++calls;
      ids.insert(call.arguments["order_id"].get<std::string>());
    }
  }
  EXPECT_EQ(calls, 8) << "only a call fits the canvas";
  EXPECT_FALSE(ids.empty());
  for (const std::string& id : ids) EXPECT_TRUE(id == "B7310" || id == "A1001") << id;
}

}  // namespace
}  // namespace qs::agent

// Parallel commits under the grammar: from the first masked position, the run of confident,
// grammar-valid proposals is committed; a doubtful, invalid or non-adjacent one ends it.
namespace qs::structured {
namespace {

TEST(SchemaConstraintParallelTest, CommitsTheValidConfidentRunFromTheFrontier) {
  StatusOr<std::unique_ptr<model::Tokenizer>> tok =
      model::Tokenizer::Load(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2");
  ASSERT_TRUE(tok.ok());
  const int32_t eos = (*tok)->TokenId("<|endoftext|>");
  TokenMatcher matcher(agent::TokenBytesForGrammar(**tok), {eos});
  StatusOr<json_schema::Schema> schema = json_schema::Compile(nlohmann::ordered_json::parse(
      R"({"type":"object","properties":{"a":{"type":"string","maxLength":8}},
          "required":["a"],"additionalProperties":false})"));
  ASSERT_TRUE(schema.ok());
  auto grammar = JsonGrammar::Compile(*schema, GrammarMode::kGenerate);
  ASSERT_TRUE(grammar.ok());

  constexpr int32_t kMask = -7;
  std::vector<int32_t> canvas(24, kMask);
  model::CanvasView view{canvas.data(), 24, 0, kMask};
  SchemaConstraint constraint(&matcher, *grammar, eos);
  constraint.SetParallelThreshold(0.8);
  // The skeleton {"a":" is forced first.
  for (;;) {
    std::vector<model::TokenCommit> forced;
    ASSERT_TRUE(constraint.ForcedTokens(view, &forced).ok());
    if (forced.empty()) break;
    for (const model::TokenCommit& c : forced) canvas[static_cast<size_t>(c.position)] = c.token;
    ASSERT_TRUE(constraint.OnCommit(view, forced).ok());
  }
  int64_t frontier = 0;
  while (canvas[static_cast<size_t>(frontier)] != kMask) ++frontier;
  ASSERT_GT(frontier, 0);
  EXPECT_FALSE(constraint.MayCommit(view, frontier - 1));
  EXPECT_TRUE(constraint.MayCommit(view, frontier + 3)) << "parallel: later positions too";

  auto id = [&](const char* text) {
    std::vector<int32_t> ids = (*tok)->Encode(text);
    EXPECT_EQ(ids.size(), 1u) << text;
    return ids[0];
  };
  auto choose = [&](std::vector<model::ProposedToken> proposals) {
    std::vector<int64_t> chosen = {0};
    constraint.ChooseCommits(view, proposals, &chosen);
    return chosen;
  };
  const int64_t f = frontier;
  // All confident and valid: hi", then }, then EOS.
  EXPECT_EQ(choose({{f, id("hi"), 0.3},
                    {f + 1, id("\""), 0.9},
                    {f + 2, id("}"), 0.95},
                    {f + 3, eos, 0.99},
                    {f + 4, eos, 0.99}}),
            (std::vector<int64_t>{0, 1, 2, 3}));
  // A doubtful proposal ends the run (the frontier is always taken).
  EXPECT_EQ(choose({{f, id("hi"), 0.1}, {f + 1, id("\""), 0.5}, {f + 2, id("}"), 0.95}}),
            (std::vector<int64_t>{0}));
  // A grammar-invalid one ends it: after hi" only } may follow.
  EXPECT_EQ(choose({{f, id("hi"), 0.9}, {f + 1, id("\""), 0.9}, {f + 2, id("]"), 0.99}}),
            (std::vector<int64_t>{0, 1}));
  // EOS before the document is complete ends it; so does a gap.
  EXPECT_EQ(choose({{f, id("hi"), 0.9}, {f + 1, eos, 0.99}}), (std::vector<int64_t>{0}));
  EXPECT_EQ(choose({{f, id("hi"), 0.9}, {f + 2, id("\""), 0.99}}), (std::vector<int64_t>{0}));
  // A string longer than maxLength 8 is not allowed even when confident.
  EXPECT_EQ(choose({{f, id("abcdef"), 0.9}, {f + 1, id("hello"), 0.99}}),
            (std::vector<int64_t>{0}));
}

}  // namespace
}  // namespace qs::structured
