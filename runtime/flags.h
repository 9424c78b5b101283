// Command-line flags declared once: the same table drives parsing, --help text and
// defaults (gemma.cpp's args visitor is the model for this).
//
//   FlagSet flags("tokenize", "Print the token ids of TEXT.", "TEXT");
//   std::string dir;  bool decode = false;
//   flags.String("tokenizer", &dir, "Folder with tokenizer.json", /*required=*/true);
//   flags.Bool("decode", &decode, "Decode ids back to text");
//   ParseResult r = flags.Parse(argc, argv);
//
// Thread safety: not thread-safe; build and parse on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace qs {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary, std::string positional_usage = "");

  void String(const std::string& name, std::string* value, const std::string& help,
              bool required = false);
  void Int(const std::string& name, int64_t* value, const std::string& help);
  void Double(const std::string& name, double* value, const std::string& help);
  void Bool(const std::string& name, bool* value, const std::string& help);
  // A flag that may be given several times (e.g. --input key=value).
  void Repeated(const std::string& name, std::vector<std::string>* values, const std::string& help);

  // Parses args (without the program and command names). Sets help_requested on --help.
  // Usage errors come back as InvalidArgument with a one-line message.
  Status Parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }

  // Full help text: usage line, summary and one line per flag with its default.
  std::string Help() const;
  const std::string& command() const { return command_; }

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kRepeated };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    bool required;
    std::string default_text;
    bool seen = false;
  };
  Flag* Find(const std::string& name);
  Status Assign(Flag& flag, const std::string& value);
  void Add(Flag flag);

  std::string command_;
  std::string summary_;
  std::string positional_usage_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace qs
