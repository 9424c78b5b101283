// The byte-level BPE trainer: the tokenizer.json it writes loads with Tokenizer::FromJson in
// Qwen2's layout, round-trips the training text and unseen text (non-ASCII, emoji), keeps
// special tokens whole, learns frequent words as single tokens, honours vocab_size and
// min_frequency, breaks ties as documented, is deterministic, and rejects bad options.
#include "model/tokenizer/bpe_trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "model/tokenizer/tokenizer.h"

namespace qs::model {
namespace {

using Json = nlohmann::json;

const std::vector<std::string> kSpecials = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

// A few hundred sentences from templates, with a fixed generator (mt19937's output is fixed
// by the standard; `% n` keeps the choice portable across standard libraries).
std::vector<std::string> Corpus() {
  std::mt19937 rng(1234);
  const auto pick = [&](const std::vector<std::string>& list) -> const std::string& {
    return list[rng() % list.size()];
  };
  const std::vector<std::string> cities = {"Paris",  "Berlin", "Lisbon", "Oslo",
                                           "Zürich", "Kraków", "Madrid", "Dublin"};
  const std::vector<std::string> days = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};
  const std::vector<std::string> nouns = {"customer", "warehouse", "invoice", "parcel",
                                          "driver",   "manager",   "report",  "payment"};
  const std::vector<std::string> adjectives = {"late", "urgent", "small", "heavy", "new", "final"};
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i) {
    const std::string n = std::to_string(rng() % 1000);
    switch (i % 6) {
      case 0:
        texts.push_back("order " + n + " was shipped to " + pick(cities) + " on " + pick(days) +
                        ".");
        break;
      case 1:
        texts.push_back("The " + pick(adjectives) + " " + pick(nouns) +
                        " checked the order of the " + pick(nouns) + ".");
        break;
      case 2:
        texts.push_back("<|im_start|>user\nWhere is order " + n + "?<|im_end|>\n<|im_start|>" +
                        "assistant\nThe order is in the " + pick(nouns) + " queue.<|im_end|>");
        break;
      case 3:
        texts.push_back("Please send the " + pick(adjectives) + " invoice for order " + n +
                        " to the café in " + pick(cities) + "!");
        break;
      case 4:
        texts.push_back("order  " + n + ":\tthe " + pick(nouns) + " paid " + n + ",50 € on " +
                        pick(days) + ".\n");
        break;
      default:
        texts.push_back("In the morning the " + pick(nouns) + " and the " + pick(nouns) +
                        " met to discuss the order.<|endoftext|>");
        break;
    }
  }
  return texts;
}

std::string Train(const std::vector<std::string>& texts, int vocab_size,
                  const std::vector<std::string>& specials = kSpecials, int min_frequency = 2) {
  BpeTrainerOptions options;
  options.vocab_size = vocab_size;
  options.min_frequency = min_frequency;
  options.special_tokens = specials;
  StatusOr<std::string> json = TrainByteLevelBpe(texts, options);
  if (!json.ok()) {
    ADD_FAILURE() << json.status().ToString();
    return std::string();
  }
  return std::move(json).value();
}

std::unique_ptr<Tokenizer> Load(const std::string& json) {
  StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json, "trained.json");
  if (!t.ok()) {
    ADD_FAILURE() << t.status().ToString();
    return nullptr;
  }
  return std::move(t).value();
}

// One trained tokenizer shared by the tests that only read it.
struct Trained {
  std::string json;
  std::unique_ptr<Tokenizer> tokenizer;
};
const Trained& Default() {
  static const Trained* trained = [] {
    auto* t = new Trained;
    t->json = Train(Corpus(), 400);
    t->tokenizer = Load(t->json);
    return t;
  }();
  return *trained;
}

TEST(BpeTrainer, WritesQwen2Layout) {
  const Json ours = Json::parse(Default().json);
  std::ifstream in(std::string(QS_SHARED_DIR) + "/fixtures/tokenizers/qwen2/tokenizer.json");
  ASSERT_TRUE(in.good());
  const Json qwen = Json::parse(in);
  for (const char* key : {"normalizer", "pre_tokenizer", "decoder", "post_processor"}) {
    EXPECT_EQ(ours.at(key), qwen.at(key)) << key;
  }
  EXPECT_EQ(ours.at("model").at("type"), "BPE");
  // The 256 byte tokens take ids 0..255 in the same (GPT-2) order as Qwen2's vocabulary.
  const Json& vocab = ours.at("model").at("vocab");
  const Json& qwen_vocab = qwen.at("model").at("vocab");
  int byte_tokens = 0;
  for (const auto& [token, id] : qwen_vocab.items()) {
    if (id.get<int>() >= 256) continue;
    ++byte_tokens;
    EXPECT_EQ(vocab.at(token), id) << token;
  }
  EXPECT_EQ(byte_tokens, 256);
  // Merges are [left, right] pairs; specials follow the vocabulary, in order.
  const Json& merges = ours.at("model").at("merges");
  ASSERT_FALSE(merges.empty());
  EXPECT_TRUE(merges[0].is_array() && merges[0].size() == 2);
  const Json& added = ours.at("added_tokens");
  ASSERT_EQ(added.size(), kSpecials.size());
  for (size_t i = 0; i < kSpecials.size(); ++i) {
    EXPECT_EQ(added[i].at("content"), kSpecials[i]);
    EXPECT_EQ(added[i].at("id"), vocab.size() + i);
    EXPECT_EQ(added[i].at("special"), true);
    EXPECT_EQ(added[i].at("normalized"), false);
  }
}

TEST(BpeTrainer, RoundTripsTrainingAndUnseenText) {
  const Tokenizer* t = Default().tokenizer.get();
  ASSERT_NE(t, nullptr);
  size_t bytes = 0, ids = 0;
  for (const std::string& text : Corpus()) {
    const std::vector<int32_t> encoded = t->Encode(text);
    EXPECT_EQ(t->Decode(encoded), text);
    bytes += text.size();
    ids += encoded.size();
  }
  // The merges pay off on the text they were learned from.
  EXPECT_LT(ids * 3, bytes) << ids << " ids for " << bytes << " bytes";
  for (const std::string text :
       {"Grüße, 東京", "emoji: 🙂🚀 and 👩‍👩‍👧",
        "Completely unseen words: xylophone quartz.", "tabs\tand\r\nnewlines\n\n  and   spaces  ",
        "numbers 1234567890 and ½ ²", "Привет, мир! مرحبا",
        "<|im_start|>system\nYou are helpful.<|im_end|>", ""}) {
    EXPECT_EQ(t->Decode(t->Encode(text)), text) << text;
  }
}

TEST(BpeTrainer, SpecialTokensAreSingleIdsAndNeverMerged) {
  const Tokenizer* t = Default().tokenizer.get();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 400);
  for (size_t i = 0; i < kSpecials.size(); ++i) {
    const int32_t id = t->TokenId(kSpecials[i]);
    EXPECT_EQ(id, static_cast<int32_t>(400 - kSpecials.size() + i));
    EXPECT_TRUE(t->IsSpecialToken(id));
  }
  const std::vector<int32_t> ids = t->Encode("<|im_start|>user\nhi<|im_end|><|endoftext|>");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), t->TokenId("<|im_start|>"));
  EXPECT_EQ(ids[ids.size() - 2], t->TokenId("<|im_end|>"));
  EXPECT_EQ(ids.back(), t->TokenId("<|endoftext|>"));
  // The corpus holds hundreds of special tokens; had they been left in the text, "<|",
  // "|>" and "_start" would be frequent pairs. They were cut out first.
  for (int32_t id = 0; id < t->vocab_size() - static_cast<int32_t>(kSpecials.size()); ++id) {
    const std::string& bytes = t->TokenBytes(id);
    EXPECT_EQ(bytes.find("<|"), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find("|>"), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find("_start"), std::string::npos) << bytes;
    EXPECT_FALSE(t->IsAddedToken(id));
  }
}

// The copy-friendly pattern: a value is the same ids in prose and inside a JSON string, so a
// model copies it token by token; Qwen2's pattern glues the quote or space to the word.
TEST(BpeTrainer, CopyFriendlyPatternKeepsValuesTheSameInProseAndJson) {
  std::vector<std::string> texts = Corpus();
  for (int i = 0; i < 50; ++i) {
    texts.push_back("Customer account: alice\nQuestion: Where is order T5389 for alice today?");
    texts.push_back("{\"customer\":\"alice\",\"order_id\":\"T5389\",\"city\":\"Berlin\"}");
  }
  BpeTrainerOptions options;
  options.vocab_size = 400;
  options.special_tokens = kSpecials;
  options.split_pattern = kCopyFriendlySplitPattern;
  StatusOr<std::string> json = TrainByteLevelBpe(texts, options);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_NE(json->find("\\p{L}+ ?"), std::string::npos);  // written into tokenizer.json
  std::unique_ptr<Tokenizer> copy_friendly = Load(*json);
  std::unique_ptr<Tokenizer> qwen2 = Load(Train(texts, 400));
  ASSERT_TRUE(copy_friendly && qwen2);
  const auto contains = [](const std::vector<int32_t>& haystack,
                           const std::vector<int32_t>& needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
           haystack.end();
  };
  for (const std::string value : {"alice", "T5389", "Berlin"}) {
    const std::vector<int32_t> ids = copy_friendly->Encode(value);
    EXPECT_TRUE(contains(copy_friendly->Encode("Customer account: " + value + "\n"), ids)) << value;
    EXPECT_TRUE(contains(copy_friendly->Encode("{\"x\":\"" + value + "\"}"), ids)) << value;
    EXPECT_TRUE(contains(copy_friendly->Encode("Is " + value + ", or not"), ids)) << value;
    for (const std::string& text : texts) {
      EXPECT_EQ(copy_friendly->Decode(copy_friendly->Encode(text)), text);
    }
  }
  // Qwen2's pattern: "\"alice" is one pre-token, so the JSON form does not contain the
  // prose form's ids.
  EXPECT_FALSE(contains(qwen2->Encode("{\"x\":\"alice\"}"), qwen2->Encode(" alice")));
  // A pattern RE2 cannot run is an error, not a silent fallback.
  options.split_pattern = "(?<=x)y";
  EXPECT_FALSE(TrainByteLevelBpe(texts, options).ok());
}

TEST(BpeTrainer, FrequentWordsBecomeSingleTokens) {
  const Tokenizer* t = Default().tokenizer.get();
  ASSERT_NE(t, nullptr);
  for (const std::string word : {"order", " order", " the", " to"}) {
    const std::vector<int32_t> ids = t->Encode(word);
    ASSERT_EQ(ids.size(), 1u) << "\"" << word << "\" is " << ids.size() << " tokens";
    EXPECT_EQ(t->TokenBytes(ids[0]), word);
  }
  EXPECT_GE(t->TokenId("Ġthe"), 256);  // written in the byte-level alphabet
}

// The classic example ("aaabdaaabac", one pre-token), worked by hand: counts aa 4, ab 2,
// then after "aa": (aa,a) 2 ties (a,b) 2 and "a" < "aa" wins; then (aa,ab) 2; every other
// pair occurs once, below min_frequency 2. (a,a) in "aaa" merges leftmost first.
TEST(BpeTrainer, MergesMostFrequentPairWithDocumentedTieBreak) {
  const std::string json = Train({"aaabdaaabac"}, 1000, {});
  const Json model = Json::parse(json).at("model");
  EXPECT_EQ(model.at("merges"), Json::parse(R"([["a","a"],["a","b"],["aa","ab"]])"));
  EXPECT_EQ(model.at("vocab").size(), 259u);
  EXPECT_EQ(model.at("vocab").at("aa"), 256);
  EXPECT_EQ(model.at("vocab").at("ab"), 257);
  EXPECT_EQ(model.at("vocab").at("aaab"), 258);
  std::unique_ptr<Tokenizer> t = Load(json);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Encode("aaabdaaabac"),
            (std::vector<int32_t>{258, t->TokenId("d"), 258, t->TokenId("a"), t->TokenId("c")}));
  // min_frequency 1 keeps merging down to one token for the whole word.
  const Json all = Json::parse(Train({"aaabdaaabac"}, 1000, {}, 1)).at("model");
  EXPECT_EQ(all.at("vocab").count("aaabdaaabac"), 1u);
}

TEST(BpeTrainer, HonoursVocabSizeExactlyAndStopsWhenPairsRunOut) {
  const std::vector<std::string> corpus = Corpus();
  for (int vocab_size : {259, 260, 300, 450}) {
    std::unique_ptr<Tokenizer> t = Load(Train(corpus, vocab_size));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->vocab_size(), vocab_size);
  }
  // No pair occurs a million times: only the byte tokens and the specials.
  const Json none = Json::parse(Train(corpus, 4096, kSpecials, 1000000));
  EXPECT_EQ(none.at("model").at("vocab").size(), 256u);
  EXPECT_TRUE(none.at("model").at("merges").empty());
  EXPECT_EQ(none.at("added_tokens")[0].at("id"), 256);
  // The small corpus runs out of pairs seen twice (at 458 tokens) long before 65536.
  std::unique_ptr<Tokenizer> t = Load(Train(corpus, 65536));
  ASSERT_NE(t, nullptr);
  EXPECT_GT(t->vocab_size(), 400);
  EXPECT_LT(t->vocab_size(), 65536);
  for (const std::string& text : corpus) EXPECT_EQ(t->Decode(t->Encode(text)), text);
  // No texts at all: a valid byte-level tokenizer without merges.
  std::unique_ptr<Tokenizer> empty = Load(Train({}, 1000));
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->vocab_size(), 256 + static_cast<int32_t>(kSpecials.size()));
  EXPECT_EQ(empty->Decode(empty->Encode("Grüße, 東京")), "Grüße, 東京");
}

TEST(BpeTrainer, IsDeterministic) {
  const std::vector<std::string> corpus = Corpus();
  const std::string first = Train(corpus, 400);
  EXPECT_EQ(Train(corpus, 400), first);
  EXPECT_EQ(first, Default().json);
  // Only word counts matter: the order of the texts does not.
  std::vector<std::string> reversed(corpus.rbegin(), corpus.rend());
  EXPECT_EQ(Train(reversed, 400), first);
}

TEST(BpeTrainer, RepairsInvalidUtf8LikeEncode) {
  const std::string bad = "caf\xC3 ok \xFF\xFE ok ok";
  std::unique_ptr<Tokenizer> t = Load(Train({bad, bad, bad}, 300, {}));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Decode(t->Encode(bad)), "caf\uFFFD ok \uFFFD\uFFFD ok ok");
  EXPECT_EQ(t->Encode(" ok").size(), 1u);
}

TEST(BpeTrainer, RejectsBadOptions) {
  BpeTrainerOptions options;
  options.special_tokens = kSpecials;
  options.vocab_size = 258;  // 256 + 3 specials do not fit
  Status status = TrainByteLevelBpe({"text"}, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("vocab_size 258 is too small"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("at least 259"), std::string::npos) << status.message();

  options.vocab_size = 1000;
  options.special_tokens = {"<|a|>", "<|a|>"};
  status = TrainByteLevelBpe({"text"}, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("special_tokens[1] \"<|a|>\" is listed twice"), std::string::npos)
      << status.message();

  options.special_tokens = {""};
  status = TrainByteLevelBpe({"text"}, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("special_tokens[0] is empty"), std::string::npos);

  options.special_tokens = {"\xFF"};
  status = TrainByteLevelBpe({"text"}, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("not valid UTF-8"), std::string::npos);

  options.special_tokens = {};
  options.vocab_size = 1 << 25;
  status = TrainByteLevelBpe({"text"}, options).status();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
}

// Timing on a large corpus (not part of the suite): QS_BPE_CORPUS=FILE trains on that file
// (split into 4 KiB texts), else on 20 MB of Zipf-distributed pseudo-English. Run with
//   bpe_trainer_test --gtest_also_run_disabled_tests --gtest_filter='*Timing*'
TEST(BpeTrainer, DISABLED_Timing) {
  std::vector<std::string> texts;
  if (const char* path = std::getenv("QS_BPE_CORPUS")) {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string all = buffer.str();
    for (size_t pos = 0; pos < all.size(); pos += 4096) texts.push_back(all.substr(pos, 4096));
  } else {
    std::mt19937 rng(7);
    const std::vector<std::string> syllables = {"the",  "an",  "or",  "der",  "in", "ter", "con",
                                                "ly",   "pro", "ing", "ment", "st", "re",  "a",
                                                "tion", "e",   "ous", "ex",   "pa", "lo"};
    std::vector<std::string> lexicon;
    for (int i = 0; i < 50000; ++i) {
      std::string word;
      const int n = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < n; ++k) word += syllables[rng() % syllables.size()];
      lexicon.push_back(word);
    }
    // Zipf: rank r with probability ~ 1/r, by inverting the harmonic CDF approximately.
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    size_t total = 0;
    while (total < (20u << 20)) {
      std::string text;
      for (int w = 0; w < 600; ++w) {
        const size_t r = static_cast<size_t>(std::exp(unit(rng) * std::log(lexicon.size())));
        text += (w % 12 == 0 ? ". " : " ") + lexicon[std::min(r, lexicon.size()) - 1];
        if (w % 50 == 49) text += ", " + std::to_string(rng() % 10000);
      }
      total += text.size();
      texts.push_back(std::move(text));
    }
  }
  size_t bytes = 0;
  for (const std::string& text : texts) bytes += text.size();
  BpeTrainerOptions options;
  options.vocab_size = 4096;
  options.special_tokens = kSpecials;
  const auto start = std::chrono::steady_clock::now();
  StatusOr<std::string> json = TrainByteLevelBpe(texts, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  std::unique_ptr<Tokenizer> t = Load(json.value());
  ASSERT_NE(t, nullptr);
  std::printf("trained %d tokens on %.1f MB (%zu texts) in %.2f s\n", t->vocab_size(),
              static_cast<double>(bytes) / 1e6, texts.size(), seconds);
}

}  // namespace
}  // namespace qs::model
