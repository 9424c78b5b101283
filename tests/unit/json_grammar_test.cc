// Tests for the schema grammar (runtime/structured/json_grammar.h) and the token matcher
// (runtime/structured/token_matcher.h): accept / reject tables, prefixes that must stay
// alive or die early, MinBytesToClose and ForcedBytes, random walks in kGenerate mode (over
// bytes, and over the Qwen2 vocabulary with budgets) whose every output the validator must
// accept, and a printed mask timing (not an assertion).
#include "runtime/structured/json_grammar.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.h"
#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"
#include "runtime/structured/token_matcher.h"

namespace qs::structured {
namespace {

namespace js = qs::json_schema;
using Grammar = std::shared_ptr<const JsonGrammar>;

struct Compiled {
  std::shared_ptr<js::Schema> schema;
  Grammar grammar;
};

Compiled CompileOrDie(const std::string& schema_text, GrammarMode mode) {
  StatusOr<js::Schema> schema = js::Compile(nlohmann::ordered_json::parse(schema_text));
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  Compiled c;
  c.schema = std::make_shared<js::Schema>(std::move(*schema));
  StatusOr<Grammar> grammar = JsonGrammar::Compile(*c.schema, mode);
  EXPECT_TRUE(grammar.ok()) << schema_text << ": " << grammar.status().ToString();
  if (grammar.ok()) c.grammar = *grammar;
  return c;
}

bool Accepts(const Grammar& g, const std::string& text) {
  JsonMatcher m(g);
  return m.AdvanceBytes(text) && m.IsComplete();
}
bool Alive(const Grammar& g, const std::string& text) {
  JsonMatcher m(g);
  return m.AdvanceBytes(text);
}

struct Case {
  const char* schema;
  std::vector<std::string> accept;  // complete documents
  std::vector<std::string> reject;  // rejected as complete documents
  std::vector<std::string> alive;   // prefixes that must stay alive
  std::vector<std::string> dead;    // prefixes that must die
};

void RunCases(const std::vector<Case>& cases, GrammarMode mode) {
  for (const Case& c : cases) {
    Compiled g = CompileOrDie(c.schema, mode);
    if (!g.grammar) continue;
    for (const std::string& t : c.accept)
      EXPECT_TRUE(Accepts(g.grammar, t)) << c.schema << " " << t;
    for (const std::string& t : c.reject)
      EXPECT_FALSE(Accepts(g.grammar, t)) << c.schema << " " << t;
    for (const std::string& t : c.alive) EXPECT_TRUE(Alive(g.grammar, t)) << c.schema << " " << t;
    for (const std::string& t : c.dead) EXPECT_FALSE(Alive(g.grammar, t)) << c.schema << " " << t;
  }
}

TEST(JsonGrammar, AcceptMode) {
  RunCases(
      {
          {R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})",
           {R"({"a":1})", R"( { "a" : 1.0 , "b" : [1, {"c": null}] } )", R"({"b":"x","a":-3})"},
           {R"({})", R"({"a":1.5})", R"({"a":"1"})", R"({"a":1,"a":2})", R"([])"},
           {R"({"a":)", R"({ "b")"},
           {R"({"a":t)", R"(})"}},
          {R"({"type":"string","minLength":2,"maxLength":3,"pattern":"^[a-c]+$"})",
           {R"("ab")", R"("abc")", R"("\u0061b")"},
           {R"("a")", R"("abcd")", R"("ad")"},
           {R"("a)"},
           {R"("d)", R"("abca)"}},
          {R"({"type":"number","minimum":0,"exclusiveMaximum":10})",
           {"0", "9.99", "1e0", "0.5E+1"},
           {"-1", "10", "1e1", "-0.0001"},
           {"1", "-"},
           {"a", "01"}},
          {R"({"enum":[1,"two",null,{"a":[1]}]})",
           {"1", "1.0", R"("two")", "null", R"({ "a" : [ 1 ] })"},
           {"2", R"("three")", R"({"a":[2]})", "true"},
           {},
           {}},
          {R"({"anyOf":[{"type":"string"},{"type":"array","items":{"type":"boolean"}}]})",
           {R"("x")", "[true,false]", "[]"},
           {"1", "[1]", "null"},
           {"[true,"},
           {"[1"}},
          {R"({"type":"string","format":"date"})",
           {R"("2024-02-29")"},
           {R"("2023-02-29")", R"("2024-13-01")"},
           {},
           {}},
          {R"({"type":"array","prefixItems":[{"type":"string"}],"items":false})",
           {R"(["a"])", "[]"},
           {R"(["a",1])", "[1]"},
           {},
           {R"(["a",)"}},
      },
      GrammarMode::kAccept);
}

TEST(JsonGrammar, GenerateMode) {
  RunCases(
      {
          {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
               "required":["b"]})",
           {R"({"a":1,"b":"x"})", R"({"b":""})"},
           {R"({"b":"x","a":1})", R"({ "b":"x"})", R"({"a":1})", R"({"b":"x","c":1})"},
           {R"({"a":-12,"b":"\n)"},
           {R"({"a":1.5)", R"({"a":1e)", R"({"b":"\u)", R"({"c)"}},
          {R"({"type":"integer","minimum":10,"maximum":20})",
           {"10", "15", "20"},
           {"9", "21"},
           {"1", "2"},
           {"3", "-", "0", "21", "100"}},
          {R"({"type":"string","maxLength":2})",
           {R"("")", R"("ab")", R"("é")"},
           {R"("abc")"},
           {R"("a)"},
           {R"("abc)"}},
          {R"({"type":"string","format":"uuid"})",
           {R"("123e4567-e89b-12d3-a456-426614174000")"},
           {R"("123")"},
           {R"("123e4567-)"},
           {R"("123e4567e)", R"("G)"}},
          {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})",
           {"[1]", "[1,2]"},
           {"[]", "[1,2,3]", "[ 1]"},
           {"[1,"},
           {"[]", "[1,2,"}},
      },
      GrammarMode::kGenerate);
}

TEST(JsonGrammar, ForcedBytesAndMinBytes) {
  Compiled g = CompileOrDie(
      R"({"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer"}},
          "required":["name"]})",
      GrammarMode::kGenerate);
  JsonMatcher m(g.grammar);
  EXPECT_EQ(m.MinBytesToClose(), static_cast<int64_t>(std::string(R"({"name":""})").size()));
  EXPECT_EQ(m.ForcedBytes(), R"({"name":")");
  ASSERT_TRUE(m.AdvanceBytes(R"({"name":"ab)"));
  EXPECT_EQ(m.MinBytesToClose(), 2);
  ASSERT_TRUE(m.AdvanceBytes(R"(")"));
  EXPECT_EQ(m.MinBytesToClose(), 1);
  EXPECT_EQ(m.ForcedBytes(), "");  // '}' or ',"n":'
  ASSERT_TRUE(m.AdvanceBytes(","));
  EXPECT_EQ(m.ForcedBytes(), R"("n":)");
  EXPECT_EQ(m.MinBytesToClose(), 6);  // "n":0}

  Compiled e = CompileOrDie(R"({"enum":["alpha","alps"]})", GrammarMode::kGenerate);
  JsonMatcher em(e.grammar);
  EXPECT_EQ(em.ForcedBytes(), R"("alp)");
  EXPECT_EQ(em.MinBytesToClose(), 6);
}

TEST(JsonGrammar, UnsupportedIsNamed) {
  for (const char* schema :
       {R"({"allOf":[{"type":"string","pattern":"^a"},{"pattern":"b$"}]})",
        R"({"oneOf":[{"type":"integer"},{"minimum":2}]})",
        R"({"allOf":[{"patternProperties":{"^x":{}}},{"type":"object"}]})",
        R"({"type":"object","patternProperties":{"a":{},"b":{},"c":{},"d":{},"e":{}}})"}) {
    StatusOr<js::Schema> s = js::Compile(nlohmann::ordered_json::parse(schema));
    ASSERT_TRUE(s.ok());
    StatusOr<Grammar> g = JsonGrammar::Compile(*s, GrammarMode::kAccept);
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(g.status().message().find("(root)"), std::string::npos) << g.status().message();
  }
  StatusOr<js::Schema> s =
      js::Compile(nlohmann::ordered_json::parse(R"({"type":"number","multipleOf":0.1})"));
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(JsonGrammar::Compile(*s, GrammarMode::kGenerate).ok());
  EXPECT_TRUE(JsonGrammar::Compile(*s, GrammarMode::kAccept).ok());
}

// kGenerate writes an integer multipleOf as the multiples within the bounds.
TEST(JsonGrammar, GenerateMultipleOfWithinBounds) {
  StatusOr<js::Schema> s = js::Compile(nlohmann::ordered_json::parse(
      R"({"type":"integer","minimum":-10,"exclusiveMaximum":100,"multipleOf":15})"));
  ASSERT_TRUE(s.ok());
  StatusOr<Grammar> g = JsonGrammar::Compile(*s, GrammarMode::kGenerate);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (const char* ok : {"0", "15", "90"}) {
    JsonMatcher m(*g);
    EXPECT_TRUE(m.AdvanceBytes(ok) && m.IsComplete()) << ok;
  }
  for (const char* bad : {"-15", "16", "105", "1.5"}) {
    JsonMatcher m(*g);
    EXPECT_FALSE(m.AdvanceBytes(bad) && m.IsComplete()) << bad;
  }
  StatusOr<js::Schema> wide =
      js::Compile(nlohmann::ordered_json::parse(R"({"type":"integer","multipleOf":7})"));
  ASSERT_TRUE(wide.ok());
  StatusOr<Grammar> refused = JsonGrammar::Compile(*wide, GrammarMode::kGenerate);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("add bounds"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(JsonGrammar::Compile(*wide, GrammarMode::kAccept).ok());
}

// oneOf whose alternatives can never both match is anyOf: discriminated unions (a required
// property pinned to different constants) and enum values the other alternative rejects.
TEST(JsonGrammar, DisjointOneOfIsSupported) {
  const char* schema = R"({"oneOf":[
      {"type":"object","properties":{"kind":{"const":"card"},"last4":{"type":"string",
       "pattern":"^[0-9]{4}$"}},"required":["kind","last4"],"additionalProperties":false},
      {"type":"object","properties":{"kind":{"enum":["iban","sepa"]},"iban":{"type":"string"}},
       "required":["kind","iban"],"additionalProperties":false},
      {"const":"cash"},
      {"type":"string","pattern":"^voucher-"}]})";
  StatusOr<js::Schema> s = js::Compile(nlohmann::ordered_json::parse(schema));
  ASSERT_TRUE(s.ok());
  for (GrammarMode mode : {GrammarMode::kAccept, GrammarMode::kGenerate}) {
    StatusOr<Grammar> g = JsonGrammar::Compile(*s, mode);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    for (const char* doc : {R"({"kind":"card","last4":"1234"})", R"({"kind":"sepa","iban":"DE1"})",
                            R"("cash")", R"("voucher-7")"}) {
      JsonMatcher m(*g);
      EXPECT_TRUE(m.AdvanceBytes(doc) && m.IsComplete()) << doc;
    }
    for (const char* doc :
         {R"({"kind":"cash","iban":"x"})", R"({"kind":"card","iban":"x"})", R"("check")"}) {
      JsonMatcher m(*g);
      EXPECT_FALSE(m.AdvanceBytes(doc) && m.IsComplete()) << doc;
    }
  }
  // Both alternatives accept {"kind":"a"}: still refused.
  StatusOr<js::Schema> overlap = js::Compile(nlohmann::ordered_json::parse(
      R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"a"}}},
                   {"type":"object","required":["x"]}]})"));
  ASSERT_TRUE(overlap.ok());
  EXPECT_FALSE(JsonGrammar::Compile(*overlap, GrammarMode::kAccept).ok());
}

// Tool-call-like schemas for the random walks.
const char* const kWalkSchemas[] = {
    R"({"type":"object","properties":{"city":{"type":"string"},"units":{"enum":["c","f"]}},
        "required":["city"]})",
    R"({"type":"object","properties":{"n":{"type":"integer","minimum":1,"maximum":100},
        "q":{"type":"string","minLength":2,"maxLength":8}},"required":["n","q"]})",
    R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string",
        "maxLength":5},"minItems":1,"maxItems":3}},"required":["tags"]})",
    R"({"type":"object","properties":{"when":{"type":"string","format":"date-time"},
        "email":{"type":"string","format":"email"},"id":{"type":"string","format":"uuid"}},
        "required":["when","email","id"]})",
    R"({"type":"object","properties":{"code":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2,4}$"}},
        "required":["code"]})",
    R"({"type":"object","properties":{"x":{"anyOf":[{"type":"number"},{"type":"null"}]},
        "y":{"type":["string","boolean"]}},"required":["x","y"]})",
    R"({"anyOf":[{"type":"object","properties":{"tool":{"const":"search"},"arguments":{
        "type":"object","properties":{"query":{"type":"string"}},"required":["query"]}},
        "required":["tool","arguments"],"additionalProperties":false},
        {"type":"object","properties":{"tool":{"const":"weather"},"arguments":{"type":"object",
        "properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1,
        "maximum":7}},"required":["city","days"]}},"required":["tool","arguments"]}]})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{
        "type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v"]}},
        "$ref":"#/$defs/node"})",
    R"({"type":"object","properties":{"lat":{"type":"number"},"ok":{"type":"boolean"}},
        "required":["lat","ok"]})",
    R"({"enum":[1,"two",null,{"a":[1]}]})",
    R"({"type":"object","properties":{"ip":{"type":"string","format":"ipv4"},
        "h":{"type":"string","format":"hostname"},"d":{"type":"string","format":"date"},
        "t":{"type":"string","format":"time"},"u":{"type":"string","format":"uri"},
        "i6":{"type":"string","format":"ipv6"},"du":{"type":"string","format":"duration"}},
        "required":["ip","h","d","t","u","i6","du"]})",
    R"({"type":"object","properties":{},"required":["extra"],
        "additionalProperties":{"type":"integer","minimum":-5,"maximum":-2}})",
    // allOf with a $ref base, anyOf next to other keywords, enum next to a type, and
    // patternProperties: merged before matching.
    R"({"$defs":{"base":{"type":"object","properties":{"id":{"type":"integer","minimum":1},
        "note":{"type":"string","maxLength":6}},"required":["id"]}},
        "allOf":[{"$ref":"#/$defs/base"},{"properties":{"id":{"maximum":9},
        "kind":{"enum":["a","b",3]}},"required":["kind"]},{"properties":{"kind":{"type":"string"}}}]})",
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":8},"zip":{"type":"string",
        "pattern":"^[0-9]{5}$"}},"anyOf":[{"required":["city"]},{"required":["zip"]}],
        "additionalProperties":false})",
    R"({"type":"object","properties":{"x_count":{"type":"integer"},"name":{"type":"string"}},
        "patternProperties":{"^x_":{"minimum":0,"maximum":5}},"required":["x_count","name"],
        "additionalProperties":false})",
};

void ExpectValid(const js::Schema& schema, const std::string& text) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "not JSON: " << text;
  Status st = js::Validate(schema, doc);
  EXPECT_TRUE(st.ok()) << text << ": " << st.ToString();
}

// Random walk over bytes: every byte the matcher allows (within the budget) is a candidate.
TEST(JsonGrammar, ByteRandomWalkIsAlwaysValid) {
  std::mt19937 rng(7);
  int docs = 0;
  for (const char* schema_text : kWalkSchemas) {
    Compiled g = CompileOrDie(schema_text, GrammarMode::kGenerate);
    ASSERT_TRUE(g.grammar);
    for (int walk = 0; walk < 20; ++walk) {
      const int64_t budget = 200;
      JsonMatcher m(g.grammar);
      ASSERT_LE(m.MinBytesToClose(), budget);
      std::string out;
      for (;;) {
        const int64_t remaining = budget - static_cast<int64_t>(out.size());
        if (m.IsComplete() && (remaining == 0 || rng() % 8 == 0)) break;
        std::vector<int> allowed;
        for (int b = 0; b < 256; ++b) {
          JsonMatcher t = m;
          if (t.Advance(static_cast<uint8_t>(b)) && t.MinBytesToClose() <= remaining - 1) {
            allowed.push_back(b);
          }
        }
        if (allowed.empty()) {
          ASSERT_TRUE(m.IsComplete()) << "stuck after " << out;
          break;
        }
        // Prefer printable ASCII half the time so strings end sometimes.
        int b = allowed[rng() % allowed.size()];
        if (rng() % 2 == 0) {
          std::vector<int> ascii;
          for (int a : allowed) {
            if (a < 0x80) ascii.push_back(a);
          }
          if (!ascii.empty()) b = ascii[rng() % ascii.size()];
        }
        ASSERT_TRUE(m.Advance(static_cast<uint8_t>(b)));
        out.push_back(static_cast<char>(b));
      }
      ASSERT_LE(static_cast<int64_t>(out.size()), budget);
      ExpectValid(*g.schema, out);
      ++docs;
    }
  }
  std::printf("byte walks: %d documents, all valid\n", docs);
}

std::unique_ptr<model::Tokenizer> LoadQwen2() {
  StatusOr<std::unique_ptr<model::Tokenizer>> tok = model::Tokenizer::Load(
      std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2/tokenizer.json");
  if (!tok.ok()) return nullptr;
  return std::move(*tok);
}

std::unique_ptr<TokenMatcher> MakeMatcher(const model::Tokenizer& tok) {
  std::vector<std::string> bytes(tok.vocab_size());
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tok.IsSpecialToken(id)) bytes[id] = tok.TokenBytes(id);
  }
  std::vector<int32_t> eos;
  for (const char* name : {"<|endoftext|>", "<|im_end|>"}) {
    int32_t id = tok.TokenId(name);
    if (id >= 0) eos.push_back(id);
  }
  return std::make_unique<TokenMatcher>(bytes, eos);
}

std::vector<int32_t> SetBits(const std::vector<uint32_t>& mask) {
  std::vector<int32_t> ids;
  for (size_t w = 0; w < mask.size(); ++w) {
    for (uint32_t bits = mask[w]; bits != 0; bits &= bits - 1) {
      ids.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(bits)));
    }
  }
  return ids;
}

// Generates one document under a token budget by picking random allowed tokens; returns
// the text, or fails the test.
std::string TokenWalk(TokenMatcher* tm, const model::Tokenizer& tok, const Compiled& g,
                      int64_t budget, std::mt19937* rng, std::vector<double>* cached_us,
                      std::vector<double>* budget_us) {
  JsonMatcher m(g.grammar);
  std::vector<uint32_t> mask(tm->mask_words());
  std::string out;
  for (int64_t used = 0;; ++used) {
    const int64_t remaining = budget - used;
    // Near the budget only closing paths stay allowed (uncached walk); elsewhere the cached
    // mask, checked after the pick.
    const bool tight = remaining <= m.MinBytesToClose() + 16;
    auto t0 = std::chrono::steady_clock::now();
    if (tight) {
      tm->FillMaskWithBudget(m, remaining, mask.data());
    } else {
      tm->FillMask(m, mask.data());
    }
    double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    (tight ? budget_us : cached_us)->push_back(us);
    std::vector<int32_t> ids = SetBits(mask);
    EXPECT_FALSE(ids.empty()) << "no allowed token after " << out;
    if (ids.empty()) return out;
    int32_t pick = ids[(*rng)() % ids.size()];
    // Favour EOS once complete, and short tokens half the time, so documents end.
    if (m.IsComplete() && (*rng)() % 4 == 0) pick = -1;
    if (pick >= 0 && (*rng)() % 2 == 0) {
      std::vector<int32_t> short_ids;
      for (int32_t id : ids) {
        if (!tm->IsEos(id) && tok.TokenBytes(id).size() <= 2) short_ids.push_back(id);
      }
      if (!short_ids.empty()) pick = short_ids[(*rng)() % short_ids.size()];
    }
    if (pick < 0 || tm->IsEos(pick)) {
      EXPECT_TRUE(m.IsComplete());
      return out;
    }
    EXPECT_TRUE(tm->AcceptToken(&m, pick));
    out += tok.TokenBytes(pick);
    EXPECT_LE(m.MinBytesToClose(), remaining - 1) << "budget broken after " << out;
    if (remaining - 1 <= 0) {
      EXPECT_TRUE(m.IsComplete()) << out;
      return out;
    }
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}
double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

TEST(TokenMatcher, Qwen2RandomWalksAreValid) {
  std::unique_ptr<model::Tokenizer> tok = LoadQwen2();
  if (!tok) GTEST_SKIP() << "Qwen2 tokenizer fixture missing";
  std::unique_ptr<TokenMatcher> tm = MakeMatcher(*tok);
  std::mt19937 rng(11);
  std::vector<double> cached_us, budget_us, compile_us;
  int docs = 0;
  for (const char* schema_text : kWalkSchemas) {
    auto t0 = std::chrono::steady_clock::now();
    Compiled g = CompileOrDie(schema_text, GrammarMode::kGenerate);
    compile_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_TRUE(g.grammar);
    for (int walk = 0; walk < 3; ++walk) {
      std::string text = TokenWalk(tm.get(), *tok, g, 120, &rng, &cached_us, &budget_us);
      ExpectValid(*g.schema, text);
      ++docs;
    }
  }
  std::printf("token walks: %d documents valid; cache entries %zu\n", docs, tm->cache_entries());
  std::printf("mask (cached path) us: n %zu mean %.1f p50 %.1f p99 %.1f\n", cached_us.size(),
              Mean(cached_us), Percentile(cached_us, 0.5), Percentile(cached_us, 0.99));
  std::printf("mask (budget path, uncached) us: n %zu mean %.1f p50 %.1f p99 %.1f\n",
              budget_us.size(), Mean(budget_us), Percentile(budget_us, 0.5),
              Percentile(budget_us, 0.99));
  std::printf("grammar compile us (schema already compiled): p50 %.1f max %.1f\n",
              Percentile(compile_us, 0.5), Percentile(compile_us, 1.0));
}

// The trie walk (with its light string levels and cache) gives the same mask as trying
// every token's bytes one by one.
TEST(TokenMatcher, MaskMatchesTokenByTokenCheck) {
  std::unique_ptr<model::Tokenizer> tok = LoadQwen2();
  if (!tok) GTEST_SKIP() << "Qwen2 tokenizer fixture missing";
  std::unique_ptr<TokenMatcher> tm = MakeMatcher(*tok);
  struct Probe {
    int schema;
    const char* prefix;
    GrammarMode mode = GrammarMode::kGenerate;
  };
  const Probe probes[] = {
      {0, ""},
      {0, R"({"city":")"},
      {0, R"({"city":"Pa)"},
      {0, R"({"city":"é)"},
      {1, R"({"n":1)"},
      {1, R"({"n":10,"q":"a)"},
      {1, R"({"n":10,"q":")"},
      {3, R"({"when":"2024-0)"},
      {4, R"({"code":"AB)"},
      {6, R"({"tool":")"},
      {9, ""},
      {11, R"({"extra":-)"},
      // String fast path: counted strings (room 6, 2, 1, 0; minLength not
      // yet reached), unconstrained ones, mid-code-point, accept mode.
      {1, R"({"n":10,"q":"ab)"},
      {1, R"({"n":10,"q":"abcdef)"},
      {2, R"({"tags":["abcd)"},
      {2, R"({"tags":["abcde)"},
      {2, R"({"tags":[")"},
      {6, R"({"tool":"search","arguments":{"query":"x y)"},
      {6, "{\"tool\":\"search\",\"arguments\":{\"query\":\"\xC3"},
      {0, R"({ "city" : "Pa)", GrammarMode::kAccept},
      {1, R"({"q":"abcdefg)", GrammarMode::kAccept},
      // kAccept format and pattern strings (superset DFAs, alphabets).
      {3, R"({"when":"2024-01-01T00:00:00Z","email":"ab)", GrammarMode::kAccept},
      {3, R"({"when":"2024-01-01T00:00:00Z","email":"ab@c)", GrammarMode::kAccept},
      {3, R"({"when":"2024-01-01T00:0)", GrammarMode::kAccept},
      {10, R"({"ip":"1.2.3.4","h":"a.b","d":"2020-01-01","t":"00:00:00Z","u":"http)",
       GrammarMode::kAccept},
      {10, R"({"ip":"1.2.3.4","h":"a.b","d":"2020-01-01","t":"00:00:00Z","u":"http://x.org/)",
       GrammarMode::kAccept},
      {4, R"({"code":"AB)", GrammarMode::kAccept},
      {4, R"({"code":"ABC-1)"}};
  std::vector<uint32_t> mask(tm->mask_words());
  for (const Probe& p : probes) {
    Compiled g = CompileOrDie(kWalkSchemas[p.schema], p.mode);
    JsonMatcher m(g.grammar);
    ASSERT_TRUE(m.AdvanceBytes(p.prefix)) << p.prefix;
    tm->FillMask(m, mask.data());
    int differences = 0;
    for (int32_t id = 0; id < tm->vocab_size(); ++id) {
      JsonMatcher t = m;
      const bool expected = tm->AcceptToken(&t, id);
      const bool got = (mask[id >> 5] >> (id & 31)) & 1;
      if (expected != got && ++differences <= 3) {
        ADD_FAILURE() << "schema " << p.schema << " prefix " << p.prefix << " token " << id << " '"
                      << tok->TokenBytes(id) << "': walk " << got << ", direct " << expected;
      }
    }
    EXPECT_EQ(differences, 0);
    // With a budget: only tokens after which the rest still fits. Loose budgets first (the
    // cached mask is the answer while the budget cannot bind), then tight ones (a walk).
    const int64_t close = m.MinBytesToClose();
    for (int64_t budget : {close + 1000, close + 2, close + 1000, close + 1, close}) {
      tm->FillMaskWithBudget(m, budget, mask.data());
      for (int32_t id = 0; id < tm->vocab_size(); ++id) {
        JsonMatcher t = m;
        const bool expected = tm->AcceptToken(&t, id) &&
                              (tm->IsEos(id) ? budget >= 1 : t.MinBytesToClose() <= budget - 1);
        const bool got = (mask[id >> 5] >> (id & 31)) & 1;
        if (expected != got && ++differences <= 3) {
          ADD_FAILURE() << "schema " << p.schema << " prefix " << p.prefix << " budget " << budget
                        << " token " << id << " '" << tok->TokenBytes(id) << "': walk " << got
                        << ", direct " << expected;
        }
      }
    }
    EXPECT_EQ(differences, 0);
  }
}

TEST(TokenMatcher, BudgetJustEnoughAndTooSmall) {
  std::unique_ptr<model::Tokenizer> tok = LoadQwen2();
  if (!tok) GTEST_SKIP() << "Qwen2 tokenizer fixture missing";
  std::unique_ptr<TokenMatcher> tm = MakeMatcher(*tok);
  Compiled g = CompileOrDie(kWalkSchemas[0], GrammarMode::kGenerate);
  const int64_t min_doc = g.grammar->MinDocumentBytes();
  EXPECT_EQ(min_doc, static_cast<int64_t>(std::string(R"({"city":""})").size()));
  // Too small: known before generating.
  EXPECT_GT(JsonMatcher(g.grammar).MinBytesToClose(), min_doc - 1);
  // Just enough: every walk closes in time.
  std::mt19937 rng(3);
  std::vector<double> a, b;
  for (int walk = 0; walk < 5; ++walk) {
    std::string text = TokenWalk(tm.get(), *tok, g, min_doc, &rng, &a, &b);
    ExpectValid(*g.schema, text);
  }
}

TEST(TokenMatcher, AcceptAndRollback) {
  std::unique_ptr<model::Tokenizer> tok = LoadQwen2();
  if (!tok) GTEST_SKIP() << "Qwen2 tokenizer fixture missing";
  std::unique_ptr<TokenMatcher> tm = MakeMatcher(*tok);
  Compiled g = CompileOrDie(kWalkSchemas[0], GrammarMode::kGenerate);
  ConstrainedSequence seq(tm.get(), JsonMatcher(g.grammar));
  std::vector<int32_t> ids = tok->Encode(R"({"city":"Paris"})");
  for (int32_t id : ids) ASSERT_TRUE(seq.Accept(id)) << id;
  EXPECT_TRUE(seq.state().IsComplete());
  seq.Rollback(1);
  EXPECT_FALSE(seq.state().IsComplete());
  EXPECT_EQ(seq.tokens(), static_cast<int>(ids.size()) - 1);
  seq.Rollback(seq.tokens());
  EXPECT_EQ(seq.tokens(), 0);
  std::vector<int32_t> bad = tok->Encode("]");
  EXPECT_FALSE(seq.Accept(bad[0]));
  EXPECT_TRUE(seq.Accept(ids[0]));
}

}  // namespace
}  // namespace qs::structured
