// Regex automata for JSON Schema patterns: tables of strings that must / must not match,
// RE2 as an independent oracle on random strings, the distances the budget logic needs,
// and unsupported syntax named in the error.
#include "runtime/structured/codepoint_dfa.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>

namespace qs::structured {
namespace {

struct Case {
  std::string pattern;
  std::vector<std::string> match, no_match;
};

TEST(CodepointDfa, PatternsAsSpecifications) {
  const std::vector<Case> cases = {
      {"^[A-Z][0-9]{4}$", {"A1001", "Z0000"}, {"a1001", "A100", "A10011", " A1001", ""}},
      {"abc", {"abc", "xxabcxx", "abcabc"}, {"ab", "acb", ""}},  // unanchored: search
      {"^ab|cd$", {"abxx", "xxcd", "ab", "cd"}, {"xab", "cdx"}},
      {"^(\\([0-9]{3}\\))?[0-9]{3}-[0-9]{4}$",
       {"555-1212", "(888)555-1212"},
       {"(888)555-1212 ext. 532", "(800)FLOWERS"}},
      {"^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",
       {"a@b.io", "first.last@x.org"},
       {"a@b", "a b@c.de", "@c.de"}},
      {"^a{2,3}?$", {"aa", "aaa"}, {"a", "aaaa"}},
      {"^x{2,}$", {"xx", "xxxxxxxx"}, {"x", ""}},
      {"^\\d+(\\.\\d{1,2})?$", {"0", "12.5", "3.14"}, {"3.", "3.141", "-1", "١"}},  // \d is ASCII
      {"^.$", {"a", "é", "😀"}, {"\n", "\r", "\xe2\x80\xa8", "ab"}},
      {"^[\\w-]+$", {"snake_case-1"}, {"café", "a b"}},
      {"^\\s$", {" ", "\t", "\xc2\xa0", "\xe3\x80\x80", "\xef\xbb\xbf"}, {"a", ""}},  // ECMA \s
      {"^[a\\-z]$", {"a", "-", "z"}, {"b"}},
      {"^(?:[]|x)$", {"x"}, {"", "]"}},  // [] is the empty class in ECMA
      {"^[^]$", {"a", "\n"}, {""}},
      {"^\\u00e9\\x41\\u{1F600}$", {"éA😀"}, {"eA😀"}},
      {"^(?:ab)+(?<tail>c)?$", {"ab", "ababc"}, {"abca", "a"}},
      {"^a{$", {"a{"}, {"a"}},  // a literal '{' (Annex B)
      {"^\\cJ$", {"\n"}, {"J"}},
  };
  for (const Case& c : cases) {
    StatusOr<CodepointDfa> dfa = CodepointDfa::FromRegex(c.pattern);
    ASSERT_TRUE(dfa.ok()) << c.pattern << ": " << dfa.status().ToString();
    for (const std::string& s : c.match) EXPECT_TRUE(dfa->Matches(s)) << c.pattern << " / " << s;
    for (const std::string& s : c.no_match)
      EXPECT_FALSE(dfa->Matches(s)) << c.pattern << " / " << s;
  }
}

TEST(CodepointDfa, AgreesWithRe2OnRandomStrings) {
  // Patterns whose meaning is the same in ECMA-262 and RE2 (no \s, no '.').
  const std::vector<std::string> patterns = {
      "^[a-c]+$",        "ab*c",          "^(a|bc)*d?$",
      "^[^b]{2,4}c",     "(ab|ba){2}",    "^a?b?c?$",
      "[0-9]{3}",        "^(a(b|c)*)+$",  "c$",
      "^[ab]*a[ab]{2}$", "^\\d{2}-\\w+$", "^(?:x|y|z){1,3}$",
  };
  std::mt19937 rng(42);
  const std::string alphabet = "abcabcxyz01-_";
  for (const std::string& p : patterns) {
    StatusOr<CodepointDfa> dfa = CodepointDfa::FromRegex(p);
    ASSERT_TRUE(dfa.ok()) << p;
    RE2 re(p);
    ASSERT_TRUE(re.ok()) << p;
    int matches = 0;
    for (int n = 0; n < 3000; ++n) {
      std::string s;
      int len = static_cast<int>(rng() % 8);
      for (int k = 0; k < len; ++k) s.push_back(alphabet[rng() % alphabet.size()]);
      const bool want = RE2::PartialMatch(s, re);
      matches += want;
      ASSERT_EQ(dfa->Matches(s), want) << p << " / \"" << s << "\"";
    }
    EXPECT_GT(matches, 0) << p << ": the random strings never matched; the test proves little";
  }
}

TEST(CodepointDfa, DistancesAndPrefixQueries) {
  StatusOr<CodepointDfa> dfa = CodepointDfa::FromRegex("^[A-Z][0-9]{4}$");
  ASSERT_TRUE(dfa.ok());
  int s = dfa->start();
  EXPECT_EQ(dfa->MinCodepointsToAccept(s), 5);
  EXPECT_TRUE(dfa->HasTransitionIn(s, 'A', 'Z'));
  EXPECT_FALSE(dfa->HasTransitionIn(s, '0', '9'));
  EXPECT_TRUE(dfa->HasTransitionIn(s, 0x20, 0x7F));  // an interval that contains A-Z
  s = dfa->Next(s, 'Q');
  ASSERT_GE(s, 0);
  EXPECT_EQ(dfa->MinCodepointsToAccept(s), 4);
  EXPECT_EQ(dfa->Next(s, 'x'), -1);
  for (char c : std::string("1234")) s = dfa->Next(s, static_cast<uint32_t>(c));
  EXPECT_TRUE(dfa->accepting(s));
  EXPECT_TRUE(dfa->transitions(s).empty());  // dead continuations are pruned

  StatusOr<CodepointDfa> search = CodepointDfa::FromRegex("ab");
  int t = search->Next(search->Next(search->start(), 'a'), 'b');
  EXPECT_TRUE(search->AcceptsEverything(t));
  EXPECT_FALSE(search->AcceptsEverything(search->start()));
}

TEST(CodepointDfa, OneOfStrings) {
  CodepointDfa dfa = CodepointDfa::OneOf({"red", "green", "gr", "é"});
  for (const char* s : {"red", "green", "gr", "é"}) EXPECT_TRUE(dfa.Matches(s)) << s;
  for (const char* s : {"re", "gree", "greenx", "", "e"}) EXPECT_FALSE(dfa.Matches(s)) << s;
  int g = dfa.Next(dfa.start(), 'g');
  EXPECT_EQ(dfa.MinCodepointsToAccept(g), 1);
}

TEST(CodepointDfa, UnsupportedAndInvalidPatternsSayWhy) {
  struct Bad {
    std::string pattern, message;
    StatusCode code;
  };
  const std::vector<Bad> bad = {
      {"a(?=b)", "lookaround", StatusCode::kUnsupported},
      {"(?<!a)b", "lookaround", StatusCode::kUnsupported},
      {"(a)\\1", "backreferences", StatusCode::kUnsupported},
      {"\\bword", "word boundaries", StatusCode::kUnsupported},
      {"\\p{Letter}", "Unicode property", StatusCode::kUnsupported},
      {"a^b", "'^' is only supported at the start", StatusCode::kUnsupported},
      {"(a$)", "'$' is only supported at the end", StatusCode::kUnsupported},
      {"(ab", "missing ')'", StatusCode::kInvalidArgument},
      {"ab)", "unbalanced ')'", StatusCode::kInvalidArgument},
      {"[a-", "missing ']'", StatusCode::kInvalidArgument},
      {"[z-a]", "out of order", StatusCode::kInvalidArgument},
      {"*a", "nothing to repeat", StatusCode::kInvalidArgument},
      {"a{3,1}", "max < min", StatusCode::kInvalidArgument},
      {"^[^\\s\\S]$", "matches no string", StatusCode::kInvalidArgument},
      {"^(a{100}){100}$", "too large", StatusCode::kUnsupported},
  };
  for (const Bad& b : bad) {
    StatusOr<CodepointDfa> dfa = CodepointDfa::FromRegex(b.pattern);
    ASSERT_FALSE(dfa.ok()) << b.pattern;
    EXPECT_EQ(dfa.status().code(), b.code) << b.pattern << ": " << dfa.status().message();
    EXPECT_NE(dfa.status().message().find(b.message), std::string::npos)
        << b.pattern << ": " << dfa.status().message();
    EXPECT_NE(dfa.status().message().find(b.pattern), std::string::npos) << dfa.status().message();
  }
}

TEST(DecodeUtf8, RejectsOverlongsSurrogatesAndTruncation) {
  for (const char* bad :
       {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80"}) {
    size_t pos = 0;
    uint32_t cp;
    EXPECT_FALSE(DecodeUtf8(bad, &pos, &cp)) << bad;
  }
  size_t pos = 0;
  uint32_t cp;
  ASSERT_TRUE(DecodeUtf8("\xf0\x9f\x98\x80", &pos, &cp));
  EXPECT_EQ(cp, 0x1F600u);
  EXPECT_EQ(pos, 4u);
}

}  // namespace
}  // namespace qs::structured

#include "runtime/structured/token_trie.h"

namespace qs::structured {
namespace {

// Walking the trie with a byte-level acceptor finds exactly the tokens that a per-token
// check finds.
TEST(TokenTrie, WalkAgreesWithCheckingEveryToken) {
  std::mt19937 rng(5);
  std::vector<std::string> vocab;
  for (int b = 0; b < 256; ++b) vocab.push_back(std::string(1, static_cast<char>(b)));
  const std::string letters = "ab\"{}:, 0123";
  for (int n = 0; n < 3000; ++n) {
    std::string t;
    int len = 2 + static_cast<int>(rng() % 6);
    for (int k = 0; k < len; ++k) t.push_back(letters[rng() % letters.size()]);
    vocab.push_back(t);
  }
  vocab.push_back("");    // a special token: not in the trie
  vocab.push_back("ab");  // a duplicate of a token's bytes
  TokenTrie trie(vocab);
  EXPECT_EQ(trie.vocab_size(), static_cast<int>(vocab.size()));

  StatusOr<CodepointDfa> dfa =
      CodepointDfa::FromRegex("^[ab0-3]*\"?$");  // ASCII: bytes = code points
  ASSERT_TRUE(dfa.ok());
  std::vector<int> state(trie.max_depth() + 1);
  state[0] = dfa->start();
  std::vector<bool> walked(vocab.size(), false);
  trie.Walk(
      [&](uint8_t byte, int depth) {
        int next = dfa->Next(state[depth - 1], byte);
        if (next < 0) return false;
        state[depth] = next;
        return true;
      },
      [&](int32_t id) { walked[id] = true; });
  int allowed = 0;
  for (size_t id = 0; id < vocab.size(); ++id) {
    int s = dfa->start();
    bool ok = !vocab[id].empty();
    for (unsigned char c : vocab[id]) {
      if (!ok) break;
      s = dfa->Next(s, c);
      ok = s >= 0;
    }
    EXPECT_EQ(walked[id], ok) << "token " << id << " \"" << vocab[id] << "\"";
    allowed += ok;
  }
  EXPECT_GT(allowed, 20);
  EXPECT_TRUE(walked[vocab.size() - 1]);  // both tokens spelled "ab"
}

}  // namespace
}  // namespace qs::structured
