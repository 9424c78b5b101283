// The tokenizer.json byte-level BPE tokenizer against ids that Hugging Face tokenizers and
// transformers.js produce (shared/fixtures/tokenizers/qwen2), the \s+(?!\S) emulation on
// hand-derived splits, every class of unsupported or broken tokenizer.json rejected with a
// message naming it, and the chat markup of LLaDA and ChatML.
#include "model/tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "model/tokenizer/chat_format.h"
#include "model/tokenizer/split_regex.h"

namespace qs::model {
namespace {

using Json = nlohmann::json;

const std::string kQwenDir = std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2";

const Tokenizer& Qwen() {
  static const Tokenizer* tokenizer = [] {
    StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::Load(kQwenDir);
    if (!t.ok()) {
      std::fprintf(stderr, "cannot load the fixture: %s\n", t.status().ToString().c_str());
      std::abort();
    }
    return std::move(t).value().release();
  }();
  return *tokenizer;
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
  bool roundtrip = false;
};

std::vector<Case> ExpectedCases() {
  std::ifstream in(kQwenDir + "/expected_qwen2_tokens.jsonl");
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const Json j = Json::parse(line);
    cases.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int32_t>>(),
                     j.at("roundtrip").get<bool>()});
  }
  return cases;
}

std::string Nfc(const std::string& s) {
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
  std::string result(reinterpret_cast<const char*>(out));
  std::free(out);
  return result;
}

std::string Show(const std::vector<int32_t>& ids) { return Json(ids).dump(); }

TEST(QwenTokenizer, ReproducesEveryFixtureIdList) {
  const std::vector<Case> cases = ExpectedCases();
  ASSERT_EQ(cases.size(), 32u);
  int matched = 0;
  for (const Case& c : cases) {
    const std::vector<int32_t> ids = Qwen().Encode(c.text);
    EXPECT_EQ(Show(ids), Show(c.ids)) << "text: " << Json(c.text).dump();
    matched += ids == c.ids;
  }
  EXPECT_EQ(matched, 32);
}

TEST(QwenTokenizer, DecodesEveryFixtureBackToItsNfcText) {
  for (const Case& c : ExpectedCases()) {
    if (!c.roundtrip) continue;
    EXPECT_EQ(Qwen().Decode(c.ids), Nfc(c.text)) << "text: " << Json(c.text).dump();
    StatusOr<std::string> checked = Qwen().DecodeChecked(c.ids);
    ASSERT_TRUE(checked.ok()) << checked.status().ToString();
    EXPECT_EQ(*checked, Nfc(c.text));
  }
}

TEST(QwenTokenizer, VocabularyLookups) {
  const Tokenizer& t = Qwen();
  EXPECT_EQ(t.vocab_size(), 151669);  // 151,643 BPE tokens + added tokens up to 151668
  EXPECT_EQ(t.TokenId("<|im_end|>"), 151645);
  EXPECT_EQ(t.TokenId("<|endoftext|>"), 151643);
  EXPECT_EQ(t.TokenId("Hello"), 9707);
  EXPECT_EQ(t.TokenId("Ġmy"), 847);  // the byte-level spelling of " my"
  EXPECT_EQ(t.TokenId("no such token"), -1);
  EXPECT_EQ(t.TokenBytes(847), " my");
  EXPECT_EQ(t.TokenBytes(198), "\n");
  EXPECT_EQ(t.TokenBytes(151644), "<|im_start|>");
  EXPECT_EQ(t.TokenBytes(-1), "");
  EXPECT_EQ(t.TokenBytes(1 << 30), "");
  EXPECT_TRUE(t.IsSpecialToken(151645));
  EXPECT_TRUE(t.IsAddedToken(151657));  // <tool_call>: added, not special
  EXPECT_FALSE(t.IsSpecialToken(151657));
  EXPECT_FALSE(t.IsAddedToken(9707));
  // A lone byte of a multi-byte character is a token of its own.
  EXPECT_EQ(t.TokenBytes(t.TokenId("Ã")), "\xC3");
}

TEST(QwenTokenizer, DecodeCheckedReportsIdsOutOfRange) {
  StatusOr<std::string> s = Qwen().DecodeChecked({9707, 151669});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(s.status().message().find("151669"), std::string::npos) << s.status().message();
  EXPECT_FALSE(Qwen().DecodeChecked({-5}).ok());
  EXPECT_EQ(Qwen().Decode({9707, -5, 151669, 11}), "Hello,");  // unchecked: skipped
}

TEST(QwenTokenizer, SpecialTokensInTextAreMatchedLongestFirst) {
  EXPECT_EQ(Show(Qwen().Encode("<|im_start|>user<|im_end|>")), Show({151644, 872, 151645}));
  // Not a token: "<|im_start" without its closing bar is ordinary text.
  const std::vector<int32_t> ids = Qwen().Encode("<|im_start");
  for (int32_t id : ids) EXPECT_LT(id, 151643);
  EXPECT_EQ(Qwen().Decode(ids), "<|im_start");
}

TEST(QwenTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  // \xFF and \xFE are never valid; \xE2\x82 is a truncated 3-byte sequence (one U+FFFD).
  EXPECT_EQ(Show(Qwen().Encode("a\xFF\xFE b")), Show(Qwen().Encode("a\uFFFD\uFFFD b")));
  EXPECT_EQ(Show(Qwen().Encode("x\xE2\x82y")), Show(Qwen().Encode("x\uFFFDy")));
  EXPECT_EQ(Qwen().Decode(Qwen().Encode("\xC0\x80")), "\uFFFD\uFFFD");
  // Decoding half of a character gives U+FFFD rather than broken UTF-8.
  EXPECT_EQ(Qwen().Decode({Qwen().TokenId("Ã")}), "\uFFFD");
}

TEST(QwenTokenizer, EncodesConcurrently) {
  const std::vector<Case> cases = ExpectedCases();
  std::vector<std::thread> threads;
  std::vector<int> matched(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (const Case& c : cases) matched[t] += Qwen().Encode(c.text) == c.ids;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int m : matched) EXPECT_EQ(m, 20 * 32);
}

TEST(QwenTokenizer, LongAndRandomInputs) {
  // One 200 KB "word": BPE must stay fast (heap-based merging) and exact.
  const std::string as(200 * 1024, 'a');
  const std::vector<int32_t> ids = Qwen().Encode(as);
  EXPECT_EQ(Qwen().Decode(ids), as);
  EXPECT_LT(ids.size(), as.size() / 4);
  // Random bytes: never a crash; the decoded text is the input with invalid UTF-8 repaired.
  std::mt19937 rng(7);
  std::string bytes(64 * 1024, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
  const std::string decoded = Qwen().Decode(Qwen().Encode(bytes));
  EXPECT_EQ(Qwen().Encode(decoded), Qwen().Encode(bytes));
  EXPECT_GT(decoded.size(), bytes.size() / 2);
}

// The pre-tokens of the Qwen2 regex, derived by hand from backtracking semantics:
// `\s+(?!\S)` takes a white-space run minus its last character when a non-space follows,
// the whole run at the end of the text, and yields to `\s+` for a single space.
TEST(QwenTokenizer, WhitespaceLookaheadSplitsAsBacktrackingEnginesDo) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Qwen().PreTokenize("a   \n b\n \n  c"), (V{"a", "   \n", " b", "\n \n", " ", " c"}));
  EXPECT_EQ(Qwen().PreTokenize("   leading spaces   "), (V{"  ", " leading", " spaces", "   "}));
  EXPECT_EQ(Qwen().PreTokenize("x    y"), (V{"x", "   ", " y"}));
  EXPECT_EQ(Qwen().PreTokenize("a\t1"), (V{"a", "\t", "1"}));      // \s+ after the lookahead fails
  EXPECT_EQ(Qwen().PreTokenize("a  1"), (V{"a", " ", " ", "1"}));  // run minus one, then \s+
  EXPECT_EQ(Qwen().PreTokenize("end \t "), (V{"end", " \t "}));    // whole run at the end
  // Unicode white space counts as \s (U+3000 ideographic space, U+00A0 no-break space).
  EXPECT_EQ(Qwen().PreTokenize("a\u3000\u3000b"), (V{"a", "\u3000", "\u3000b"}));
  EXPECT_EQ(Qwen().PreTokenize("a\u00A0\u00A0 b"), (V{"a", "\u00A0\u00A0", " b"}));
  // Contractions are case-insensitive; digits split one by one.
  EXPECT_EQ(Qwen().PreTokenize("DON'T 123"), (V{"DON", "'T", " ", "1", "2", "3"}));
  EXPECT_EQ(Qwen().PreTokenize("<|im_start|>hi"), (V{"<|im_start|>", "hi"}));
}

TEST(SplitRegex, EmulatesTheLookaheadAtItsPlaceInTheAlternation) {
  // With \s+(?!\S) first, "  x" splits the run; with plain \s+ first it never runs.
  StatusOr<std::unique_ptr<SplitRegex>> first = SplitRegex::Compile("\\s+(?!\\S)|\\S+", "t");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::vector<std::string_view> pieces;
  (*first)->Split("  x ", &pieces);
  EXPECT_EQ(pieces, (std::vector<std::string_view>{" ", " ", "x", " "}));
  // No alternative after it: a single space before a non-space is left as a gap piece.
  StatusOr<std::unique_ptr<SplitRegex>> only = SplitRegex::Compile("\\s+(?!\\S)", "t");
  ASSERT_TRUE(only.ok()) << only.status().ToString();
  pieces.clear();
  (*only)->Split("a b   c", &pieces);
  EXPECT_EQ(pieces, (std::vector<std::string_view>{"a b", "  ", " c"}));
  // \d is Unicode-aware, as in Oniguruma: Arabic-Indic digits count.
  StatusOr<std::unique_ptr<SplitRegex>> digits = SplitRegex::Compile("\\d+", "t");
  ASSERT_TRUE(digits.ok());
  pieces.clear();
  (*digits)->Split("x\u0661\u0662y", &pieces);
  EXPECT_EQ(pieces, (std::vector<std::string_view>{"x", "\u0661\u0662", "y"}));
}

TEST(SplitRegex, RejectsLookaroundItCannotEmulate) {
  for (const char* pattern : {"\\p{L}+(?=\\d)", "(?<=a)b", "(?<!a)b", "\\s+(?!\\S)x", "(?>a)"}) {
    StatusOr<std::unique_ptr<SplitRegex>> r = SplitRegex::Compile(pattern, "where");
    ASSERT_FALSE(r.ok()) << pattern;
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << pattern;
    EXPECT_EQ(r.status().message().rfind("where: ", 0), 0u) << r.status().message();
  }
}

// ---- a small byte-level tokenizer.json written by the tests ----

std::string ByteChar(int b) {
  // GPT-2's bytes_to_unicode, written independently of the library.
  int n = 0;
  for (int x = 0; x < 256; ++x) {
    const bool printable = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
    if (x == b) {
      const int cp = printable ? x : 256 + n;
      std::string out;
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      return out;
    }
    if (!printable) ++n;
  }
  return "";
}

// Vocabulary: the 256 bytes (id = byte value), then merged tokens from 256 on.
Json MiniTokenizer() {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"}, {"o", "r"}, {"Ġw", "or"}};
  Json merge_list = Json::array();
  int next = 256;
  for (const auto& [a, b] : merges) {
    vocab[a + b] = next++;
    merge_list.push_back(a + " " + b);
  }
  vocab["world"] = next++;  // reachable only whole (ignore_merges)
  Json j;
  j["version"] = "1.0";
  j["added_tokens"] = Json::array();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"},
                        {"add_prefix_space", false},
                        {"trim_offsets", true},
                        {"use_regex", true}};
  j["post_processor"] = nullptr;
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = {{"type", "BPE"},          {"dropout", nullptr},     {"unk_token", nullptr},
                {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab},
                {"merges", merge_list}};
  return j;
}

Json Added(int id, const std::string& content, bool special) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

StatusOr<std::unique_ptr<Tokenizer>> FromJson(const Json& j) {
  return Tokenizer::FromJson(j.dump(), "tokenizer.json");
}

std::unique_ptr<Tokenizer> MustLoad(const Json& j) {
  StatusOr<std::unique_ptr<Tokenizer>> t = FromJson(j);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(MiniTokenizer, Gpt2RegexAndMergesByRank) {
  std::unique_ptr<Tokenizer> t = MustLoad(MiniTokenizer());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 256 + 7 + 1);
  EXPECT_EQ(t->PreTokenize("hello world  it's"),
            (std::vector<std::string>{"hello", " world", " ", " it", "'s"}));
  // "hello" -> he, ll -> hell -> hello; " world" -> Ġw + or -> Ġwor, then l, d.
  EXPECT_EQ(Show(t->Encode("hello world")), Show({259, 262, 'l', 'd'}));
  EXPECT_EQ(t->Decode(t->Encode("hello world")), "hello world");
  // The same pair twice: leftmost first ("lll" -> ll, l).
  EXPECT_EQ(Show(t->Encode("lll")), Show({257, 'l'}));
}

TEST(MiniTokenizer, ByteLevelPrefixSpaceGoesOnEverySplit) {
  Json j = MiniTokenizer();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  j["added_tokens"].push_back(Added(300, "<s>", true));
  std::unique_ptr<Tokenizer> t = MustLoad(j);
  ASSERT_NE(t, nullptr);
  // As Hugging Face's ByteLevel does: each piece left by the added tokens gets its space.
  EXPECT_EQ(t->PreTokenize("hello world<s>x"),
            (std::vector<std::string>{" hello", " world", "<s>", " x"}));
  EXPECT_EQ(t->PreTokenize(" hi"), (std::vector<std::string>{" hi"}));
}

TEST(MiniTokenizer, MergesInArrayFormAndIgnoreMerges) {
  Json j = MiniTokenizer();
  Json arrays = Json::array();
  for (const Json& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    arrays.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = arrays;
  std::unique_ptr<Tokenizer> t = MustLoad(j);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Show(t->Encode("hello world")), Show({259, 262, 'l', 'd'}));
  EXPECT_EQ(Show(t->Encode("world")), Show({'w', 261, 'l', 'd'}));
  j["model"]["ignore_merges"] = true;
  t = MustLoad(j);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Show(t->Encode("world")), Show({263}));  // taken whole
  EXPECT_EQ(Show(t->Encode("hello")), Show({259}));
}

TEST(MiniTokenizer, AddedTokenOptions) {
  Json j = MiniTokenizer();
  j["added_tokens"].push_back(Added(300, "<s>", true));
  j["added_tokens"].push_back(Added(301, "<stop>", true));
  j["added_tokens"].push_back(Added(305, "<st", false));
  Json lstrip = Added(302, "[L]", false);
  lstrip["lstrip"] = true;
  Json rstrip = Added(303, "[R]", false);
  rstrip["rstrip"] = true;
  Json word = Added(304, "cat", false);
  word["single_word"] = true;
  j["added_tokens"].push_back(lstrip);
  j["added_tokens"].push_back(rstrip);
  j["added_tokens"].push_back(word);
  std::unique_ptr<Tokenizer> t = MustLoad(j);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 306);
  EXPECT_EQ(Show(t->Encode("<s><stop><st")), Show({300, 301, 305}));  // longest match first
  EXPECT_EQ(Show(t->Encode("h  [L]h")), Show({'h', 302, 'h'}));       // spaces before absorbed
  EXPECT_EQ(Show(t->Encode("h[R]  h")), Show({'h', 303, 'h'}));       // spaces after absorbed
  EXPECT_EQ(Show(t->Encode("a cat")), Show({'a', ' ', 304}));         // a word of its own
  EXPECT_EQ(Show(t->Encode("cats")), Show({'c', 'a', 't', 's'}));     // inside a word: text
  EXPECT_EQ(t->Decode({300, 'h', 301}), "<s>h<stop>");
  EXPECT_EQ(t->TokenId("<stop>"), 301);
}

TEST(MiniTokenizer, NormalizedAddedTokensMatchAfterNfc) {
  Json j = MiniTokenizer();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  Json accent = Added(300, "e\u0301!", false);  // decomposed in the file
  accent["normalized"] = true;
  j["added_tokens"].push_back(accent);
  std::unique_ptr<Tokenizer> t = MustLoad(j);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(Show(t->Encode("\u00e9!")), Show({300}));   // composed text
  EXPECT_EQ(Show(t->Encode("e\u0301!")), Show({300}));  // decomposed text, NFC'd first
}

// ---- broken and unsupported files ----

void ExpectError(const Json& j, StatusCode code, const std::string& fragment) {
  StatusOr<std::unique_ptr<Tokenizer>> t = FromJson(j);
  ASSERT_FALSE(t.ok()) << "expected an error containing " << fragment;
  EXPECT_EQ(t.status().code(), code) << t.status().ToString();
  EXPECT_NE(t.status().message().find(fragment), std::string::npos)
      << "message: " << t.status().message() << "\nexpected to contain: " << fragment;
}

TEST(TokenizerErrors, UnsupportedFeaturesNameTheirJsonPath) {
  Json j = MiniTokenizer();
  j["normalizer"] = {{"type", "NFKC"}};
  ExpectError(j, StatusCode::kUnsupported, "tokenizer.json: normalizer.type \"NFKC\"");

  j = MiniTokenizer();
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}};
  ExpectError(j, StatusCode::kUnsupported, "normalizer.normalizers[1].type \"Lowercase\"");

  j = MiniTokenizer();
  j["model"]["type"] = "WordPiece";
  ExpectError(j, StatusCode::kUnsupported, "tokenizer.json: model.type \"WordPiece\"");

  j = MiniTokenizer();
  j["model"]["byte_fallback"] = true;
  ExpectError(j, StatusCode::kUnsupported, "model.byte_fallback true");

  j = MiniTokenizer();
  j["model"]["dropout"] = 0.1;
  ExpectError(j, StatusCode::kUnsupported, "model.dropout 0.1");

  j = MiniTokenizer();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  ExpectError(j, StatusCode::kUnsupported, "pre_tokenizer.type \"Whitespace\"");

  j = MiniTokenizer();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", "\\s+"}}},
                           {"behavior", "Removed"},
                           {"invert", false}},
                          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
  ExpectError(j, StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[0].behavior \"Removed\"");
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Isolated";
  j["pre_tokenizer"]["pretokenizers"][0]["invert"] = true;
  ExpectError(j, StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[0].invert true");
  j["pre_tokenizer"]["pretokenizers"][0]["invert"] = false;
  ASSERT_TRUE(FromJson(j).ok());
  // A lookahead that is not the whole \s+(?!\S) alternative.
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+(?=\\s)|\\s+";
  ExpectError(j, StatusCode::kUnsupported, "pre_tokenizer.pretokenizers[0].pattern.Regex");
  ExpectError(j, StatusCode::kUnsupported, "cannot be emulated");

  j = MiniTokenizer();
  j["decoder"] = {{"type", "WordPiece"}};
  ExpectError(j, StatusCode::kUnsupported, "decoder.type \"WordPiece\"");
}

TEST(TokenizerErrors, MalformedFilesAreInvalidArguments) {
  StatusOr<std::unique_ptr<Tokenizer>> bad = Tokenizer::FromJson("{\"model\": ", "tok.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("tok.json: not valid JSON"), std::string::npos)
      << bad.status().message();

  Json j = MiniTokenizer();
  j["model"]["merges"].push_back("zz q");
  ExpectError(j, StatusCode::kInvalidArgument, "model.merges[7]");
  ExpectError(j, StatusCode::kInvalidArgument, "\"zz\", which is not in model.vocab");

  j = MiniTokenizer();
  j["model"]["merges"].push_back("a b");  // both exist, "ab" does not
  ExpectError(j, StatusCode::kInvalidArgument, "makes \"ab\", which is not in model.vocab");

  j = MiniTokenizer();
  j["model"]["merges"].push_back("a b c");
  ExpectError(j, StatusCode::kInvalidArgument, "model.merges[7]");

  j = MiniTokenizer();
  j["model"].erase("vocab");
  ExpectError(j, StatusCode::kInvalidArgument, "model: missing \"vocab\"");

  j = MiniTokenizer();
  j["model"]["vocab"]["x y"] = -3;
  ExpectError(j, StatusCode::kInvalidArgument, "model.vocab");

  j = MiniTokenizer();
  j["added_tokens"].push_back({{"content", "<x>"}});
  ExpectError(j, StatusCode::kInvalidArgument, "added_tokens[0]");

  j = MiniTokenizer();
  j["added_tokens"] = "nope";
  ExpectError(j, StatusCode::kInvalidArgument, "added_tokens");

  ExpectError(Json::array(), StatusCode::kInvalidArgument, "expected a JSON object");
  ExpectError(Json::object(), StatusCode::kInvalidArgument, "missing \"model\"");
}

std::string TempDir(const std::string& name) {
  const std::string dir = std::string(QS_BINARY_DIR) + "/tokenizer_test_" + name;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

TEST(TokenizerErrors, LoadReadsFilesAndFolders) {
  const std::string dir = TempDir("files");
  Json j = MiniTokenizer();
  j["normalizer"] = {{"type", "NFKC"}};
  std::ofstream(dir + "/tokenizer.json") << j.dump();
  StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::Load(dir);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().ToString(),
            "unsupported: " + dir + "/tokenizer.json: normalizer.type \"NFKC\" is not supported " +
                "(supported: NFC, Sequence, null)");
  std::ofstream(dir + "/bad.json") << "{not json";
  t = Tokenizer::Load(dir + "/bad.json");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  t = Tokenizer::Load(dir + "/missing");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  std::ofstream(dir + "/good.json") << MiniTokenizer().dump();
  EXPECT_TRUE(Tokenizer::Load(dir + "/good.json").ok());
}

// ---- chat markup ----

TEST(ChatFormat, LladaHeaderFormat) {
  const std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi!"}};
  EXPECT_EQ(ChatFormat::Llada().Render(messages),
            "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(ChatFormat::Llada().Render({{"user", "Hello"}}),
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // A multi-turn conversation: BOS once; content trimmed as the template's `| trim` does.
  EXPECT_EQ(ChatFormat::Llada().Render({{"user", " a \n"}, {"assistant", "b"}, {"user", "c"}},
                                       /*add_generation_prompt=*/false),
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nb<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nc<|eot_id|>");
}

TEST(ChatFormat, ChatMlWithDreamsDefaultSystemMessage) {
  EXPECT_EQ(ChatFormat::Dream().Render({{"user", "Hi"}}),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ChatFormat::Dream().Render({{"system", "S"}, {"user", "Hi"}}),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(ChatFormat::ChatMl().Render({{"user", "Hi"}}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatFormat, ToolResultsShareOneUserTurnInChatMl) {
  const std::vector<ChatMessage> messages = {{"user", "Weather?"},
                                             {"assistant", "<tool_call>{}</tool_call>"},
                                             {"tool", "sunny"},
                                             {"tool", "20C"}};
  EXPECT_EQ(ChatFormat::ChatMl().Render(messages),
            "<|im_start|>user\nWeather?<|im_end|>\n"
            "<|im_start|>assistant\n<tool_call>{}</tool_call><|im_end|>\n"
            "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>"
            "\n<tool_response>\n20C\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatFormat, PickedFromTemplateOrModelType) {
  // The fixture's Qwen3 template: ChatML without a default system message.
  StatusOr<ChatFormat> qwen = ChatFormatForCheckpoint(kQwenDir, "ignored");
  ASSERT_TRUE(qwen.ok()) << qwen.status().ToString();
  EXPECT_EQ(qwen->family, ChatFormat::Family::kChatMl);
  EXPECT_EQ(qwen->default_system, "");
  // A Qwen2/Dream-style template writes its default system message as a literal.
  StatusOr<ChatFormat> dream = ChatFormatFromTemplate(
      "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful "
      "assistant.<|im_end|>\\n' }}{% endif %}{% for m in messages %}{{'<|im_start|>' + "
      "m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
      "");
  ASSERT_TRUE(dream.ok());
  EXPECT_EQ(dream->default_system, "You are a helpful assistant.");
  StatusOr<ChatFormat> llada = ChatFormatFromTemplate(
      "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
      "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = "
      "bos_token + content %}{% endif %}",
      "<|startoftext|>");
  ASSERT_TRUE(llada.ok());
  EXPECT_EQ(llada->family, ChatFormat::Family::kHeader);
  EXPECT_EQ(llada->bos, "<|startoftext|>");
  StatusOr<ChatFormat> other = ChatFormatFromTemplate("[INST] {{ m }} [/INST]", "<s>");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kUnsupported);

  // Without tokenizer_config.json: the model type decides.
  const std::string dir = TempDir("chat");
  EXPECT_EQ(ChatFormatForCheckpoint(dir, "llada")->bos, "<|startoftext|>");
  EXPECT_EQ(ChatFormatForCheckpoint(dir, "Dream")->default_system, "You are a helpful assistant.");
  EXPECT_EQ(ChatFormatForCheckpoint(dir, "qwen2")->family, ChatFormat::Family::kChatMl);
  EXPECT_EQ(ChatFormatForCheckpoint(dir, "llama")->family, ChatFormat::Family::kHeader);
  EXPECT_EQ(ChatFormatForCheckpoint(dir, "gpt2").status().code(), StatusCode::kUnsupported);
}

// Encode speed on ~100 KB of English, code and the fixture's multilingual texts (run with
// --gtest_also_run_disabled_tests). "first pass" has a cold word cache.
TEST(QwenTokenizer, DISABLED_EncodeSpeed) {
  std::string text;
  const std::vector<Case> cases = ExpectedCases();
  for (const Case& c : cases) text += c.text + "\n";
  for (const char* file : {"README.md", "docs/ARCHITECTURE.md", "model/tokenizer/tokenizer.cc",
                           "model/tokenizer/split_regex.cc", "tests/unit/tokenizer_test.cc",
                           "runtime/flags.cc", "base/status.h"}) {
    std::ifstream in(std::string(QS_SOURCE_DIR) + "/" + file);
    std::stringstream contents;
    contents << in.rdbuf();
    text += contents.str();
  }
  while (text.size() < 100 * 1024) text += text.substr(0, 100 * 1024 - text.size());
  const Tokenizer& tokenizer = Qwen();  // loaded outside the timing
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> cold = tokenizer.Encode(text);
  const auto mid = std::chrono::steady_clock::now();
  const std::vector<int32_t> warm = tokenizer.Encode(text);
  const auto end = std::chrono::steady_clock::now();
  const double cold_s = std::chrono::duration<double>(mid - start).count();
  const double warm_s = std::chrono::duration<double>(end - mid).count();
  std::printf(
      "%zu bytes -> %zu tokens; first pass %.1f ms (%.0f tokens/s, %.1f MB/s), "
      "again %.1f ms (%.0f tokens/s)\n",
      text.size(), cold.size(), cold_s * 1e3, cold.size() / cold_s, text.size() / cold_s / 1e6,
      warm_s * 1e3, warm.size() / warm_s);
  EXPECT_EQ(cold, warm);
}

}  // namespace
}  // namespace qs::model
