#include "runtime/flags.h"

#include <gtest/gtest.h>

namespace qs {
namespace {

struct Fixture {
  std::string model = "builtin";
  int64_t steps = 64;
  double threshold = 0.9;
  bool verbose = false;
  std::vector<std::string> inputs;
  FlagSet flags{"generate", "Generate text.", "PROMPT"};
  Fixture() {
    flags.String("model", &model, "Model folder");
    flags.Int("steps", &steps, "Denoising steps");
    flags.Double("threshold", &threshold, "Confidence threshold");
    flags.Bool("verbose", &verbose, "Show the canvas");
    flags.Repeated("input", &inputs, "key=value");
  }
};

TEST(Flags, ParsesBothSpellingsAndPositionals) {
  Fixture f;
  ASSERT_TRUE(f.flags
                  .Parse({"--model", "dir", "--steps=8", "hello", "--threshold", "0.5", "--verbose",
                          "--input", "a=1", "--input=b=2", "--", "--literal"})
                  .ok());
  EXPECT_EQ(f.model, "dir");
  EXPECT_EQ(f.steps, 8);
  EXPECT_DOUBLE_EQ(f.threshold, 0.5);
  EXPECT_TRUE(f.verbose);
  EXPECT_EQ(f.inputs, (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(f.flags.positional(), (std::vector<std::string>{"hello", "--literal"}));
}

TEST(Flags, UsageErrorsSayWhatIsWrong) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--nosuch"}, "unknown flag --nosuch"},
      {{"--steps", "many"}, "--steps=many: expected an integer"},
      {{"--steps", "99999999999999999999999"}, "expected an integer"},
      {{"--threshold", "x"}, "--threshold=x: expected a number"},
      {{"--verbose=maybe"}, "expected true or false"},
      {{"--model"}, "flag --model needs a value"},
      {{"-x"}, "unknown option -x"},
  };
  for (const Case& c : cases) {
    Fixture f;
    Status s = f.flags.Parse(c.args);
    EXPECT_FALSE(s.ok()) << c.args[0];
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.message();
  }
}

TEST(Flags, RequiredFlagsAndHelp) {
  std::string dir;
  FlagSet flags("tokenize", "Print token ids.", "TEXT");
  flags.String("tokenizer", &dir, "Folder with tokenizer.json", /*required=*/true);
  Status s = flags.Parse({"hello"});
  EXPECT_EQ(s.message(), "missing required flag --tokenizer");

  FlagSet again("tokenize", "Print token ids.", "TEXT");
  again.String("tokenizer", &dir, "Folder with tokenizer.json", /*required=*/true);
  ASSERT_TRUE(again.Parse({"--help"}).ok());
  EXPECT_TRUE(again.help_requested());
  const std::string help = again.Help();
  EXPECT_NE(help.find("usage: quicksilver tokenize [flags] TEXT"), std::string::npos);
  EXPECT_NE(help.find("--tokenizer TEXT"), std::string::npos);
  EXPECT_NE(help.find("(required)"), std::string::npos);
}

TEST(Flags, NegativeNumbersArePositionals) {
  Fixture f;
  ASSERT_TRUE(f.flags.Parse({"-3"}).ok());
  EXPECT_EQ(f.flags.positional(), (std::vector<std::string>{"-3"}));
}

}  // namespace
}  // namespace qs
