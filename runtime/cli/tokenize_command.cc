// quicksilver tokenize: text -> token ids, or ids -> text with --decode, using a
// checkpoint's tokenizer.json. --jsonl streams one JSON value per line (for scripts and
// for comparing with other tokenizers).
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "model/tokenizer/tokenizer.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

namespace {

constexpr char kCommand[] = "tokenize";

// Parses a JSON array of token ids; `where` names the input in messages.
StatusOr<std::vector<int32_t>> ParseIds(const std::string& text, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) {
    return InvalidArgument(where + ": expected a JSON array of token ids, got '" + text + "'");
  }
  std::vector<int32_t> ids;
  ids.reserve(j.size());
  for (const nlohmann::json& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX) {
      return InvalidArgument(where + ": token ids must be integers, got " + v.dump());
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

// One TEXT (or one id array with decode) -> one output line.
StatusOr<std::string> Convert(const model::Tokenizer& tokenizer, const std::string& input,
                              bool decode, bool json_output, const std::string& where) {
  if (!decode) return nlohmann::json(tokenizer.Encode(input)).dump();
  QS_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ParseIds(input, where));
  StatusOr<std::string> text = tokenizer.DecodeChecked(ids);
  if (!text.ok()) return text.status().WithContext(where);
  return json_output ? nlohmann::json(*text).dump() : *text;
}

}  // namespace

int RunTokenize(const std::vector<std::string>& args) {
  FlagSet flags(kCommand,
                "Print the token ids of TEXT as a JSON array (with --decode: TEXT is a JSON array "
                "of ids; print its text).",
                "TEXT");
  std::string dir;
  bool decode = false;
  bool jsonl = false;
  flags.String("tokenizer", &dir, "Folder with tokenizer.json (a checkpoint) or the file",
               /*required=*/true);
  flags.Bool("decode", &decode, "Decode a JSON array of ids instead of encoding text");
  flags.Bool("jsonl", &jsonl,
             "Read stdin line by line: a JSON string in, an id array out (with --decode: an id "
             "array in, a JSON string out)");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (jsonl && !flags.positional().empty()) {
    return UsageError(kCommand,
                      "--jsonl reads stdin; unexpected argument '" + flags.positional()[0] + "'");
  }
  if (!jsonl && flags.positional().size() != 1) {
    return UsageError(kCommand, flags.positional().empty()
                                    ? "missing TEXT"
                                    : "expected one TEXT argument (quote it), got " +
                                          std::to_string(flags.positional().size()));
  }
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(dir);
  if (!tokenizer.ok()) return Failure(kCommand, tokenizer.status().ToString());

  if (!jsonl) {
    StatusOr<std::string> out =
        Convert(**tokenizer, flags.positional()[0], decode, /*json_output=*/false, "TEXT");
    if (!out.ok()) return Failure(kCommand, out.status().ToString());
    std::printf("%s\n", out->c_str());
    return kExitOk;
  }
  std::string line;
  for (int64_t line_number = 1; std::getline(std::cin, line); ++line_number) {
    const std::string where = "stdin line " + std::to_string(line_number);
    std::string input = line;
    if (!decode) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_string()) {
        return Failure(kCommand, where + ": expected a JSON string");
      }
      input = j.get<std::string>();
    }
    StatusOr<std::string> out = Convert(**tokenizer, input, decode, /*json_output=*/true, where);
    if (!out.ok()) return Failure(kCommand, out.status().ToString());
    std::printf("%s\n", out->c_str());
    std::fflush(stdout);  // line by line, so that a co-process can read each answer
  }
  return kExitOk;
}

}  // namespace qs::cli
