// quicksilver schema check: replay a JSON document, tokenized by a model's tokenizer,
// through the constrained decoder's grammar matcher, computing the full allowed-token mask
// at every position (the mask benchmark of docs/PERFORMANCE.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/files.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/cli/command.h"
#include "runtime/json_schema/schema.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/token_matcher.h"

namespace qs::cli {

namespace {

constexpr const char* kCommand = "schema check";

struct Replay {
  bool accepted = false;
  std::string error;  // where and why it was rejected
  std::vector<double> mask_us;
  size_t tokens = 0;
};

// Feeds the document's tokens one by one; computes the full mask before each one.
Replay ReplayDocument(const std::string& text, const model::Tokenizer& tokenizer,
                      structured::TokenMatcher& matcher,
                      const std::shared_ptr<const structured::JsonGrammar>& grammar) {
  Replay r;
  const std::vector<int32_t> ids = tokenizer.Encode(text);
  r.tokens = ids.size();
  structured::JsonMatcher state(grammar);
  std::vector<uint32_t> mask(static_cast<size_t>(matcher.mask_words()));
  size_t offset = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    matcher.FillMask(state, mask.data());
    r.mask_us.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    const std::string& bytes = tokenizer.TokenBytes(ids[i]);
    if (!matcher.AcceptToken(&state, ids[i])) {
      // Find the byte inside the token that the grammar refused.
      structured::JsonMatcher probe = state;
      size_t k = 0;
      while (k < bytes.size() && probe.Advance(static_cast<uint8_t>(bytes[k]))) ++k;
      r.error = "rejected at byte offset " + std::to_string(offset + k) + " (token " +
                std::to_string(i) + ", id " + std::to_string(ids[i]) + ", " +
                nlohmann::json(tokenizer.Decode({ids[i]})).dump() + ")";
      return r;
    }
    offset += bytes.size();
  }
  if (!state.IsComplete()) {
    r.error = "the document is incomplete after " + std::to_string(offset) + " bytes";
    return r;
  }
  r.accepted = true;
  return r;
}

nlohmann::json Percentiles(std::vector<double> v) {
  if (v.empty()) return nullptr;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {{"n", v.size()}, {"mean", sum / v.size()}, {"p50", at(0.5)}, {"p99", at(0.99)}};
}

int RunSchemaCheck(const std::vector<std::string>& args) {
  std::string instance_path, instances_path, tokenizer_dir;
  bool stats = false;
  FlagSet flags(
      kCommand,
      "Tokenize a JSON document with TOKENIZER and replay it through the grammar matcher\n"
      "of SCHEMA.json. Exit 0: accepted as a complete document; 1: rejected (byte offset\n"
      "and token printed); 2: the schema uses something not supported (keyword and\n"
      "pointer printed).",
      "SCHEMA.json");
  flags.String("instance", &instance_path, "The document: a file, or - for stdin");
  flags.String("instances", &instances_path,
               "A JSONL file: one document per line, one result each");
  flags.String("tokenizer", &tokenizer_dir, "Folder with tokenizer.json (a model folder works)",
               true);
  flags.Bool("stats", &stats, "Print compile time and per-token full-mask times as JSON");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (flags.positional().size() != 1) return UsageError(kCommand, "expected one SCHEMA.json");
  if (instance_path.empty() == instances_path.empty()) {
    return UsageError(kCommand, "give exactly one of --instance FILE|- or --instances FILE.jsonl");
  }

  const auto t0 = std::chrono::steady_clock::now();
  StatusOr<std::string> schema_text = ReadFile(flags.positional()[0]);
  if (!schema_text.ok()) return Failure(kCommand, schema_text.status().ToString());
  nlohmann::ordered_json schema_json =
      nlohmann::ordered_json::parse(*schema_text, nullptr, /*allow_exceptions=*/false);
  if (schema_json.is_discarded()) {
    return Failure(kCommand, flags.positional()[0] + " is not valid JSON");
  }
  StatusOr<json_schema::Schema> schema = json_schema::Compile(schema_json);
  auto schema_error = [&](const Status& s) {
    // Unsupported messages already read "unsupported: KEYWORD at POINTER".
    const std::string message = s.code() == StatusCode::kUnsupported ? s.message() : s.ToString();
    std::fprintf(stderr, "quicksilver %s: %s: %s\n", kCommand, flags.positional()[0].c_str(),
                 message.c_str());
    return s.code() == StatusCode::kUnsupported ? kExitUsage : kExitFailure;
  };
  if (!schema.ok()) return schema_error(schema.status());
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kAccept);
  if (!grammar.ok()) return schema_error(grammar.status());
  const double compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(tokenizer_dir);
  if (!tokenizer.ok()) return Failure(kCommand, tokenizer.status().ToString());
  std::vector<std::string> token_bytes(static_cast<size_t>((*tokenizer)->vocab_size()));
  for (int32_t id = 0; id < (*tokenizer)->vocab_size(); ++id) {
    // Special tokens (<|im_end|>, ...) are never part of a document.
    if (!(*tokenizer)->IsSpecialToken(id)) token_bytes[id] = (*tokenizer)->TokenBytes(id);
  }
  structured::TokenMatcher matcher(token_bytes, {});

  std::vector<double> all_masks;
  int exit_code = kExitOk;
  if (!instances_path.empty()) {
    std::ifstream in(instances_path);
    if (!in) return Failure(kCommand, "cannot open " + instances_path);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Replay r = ReplayDocument(line, **tokenizer, matcher, *grammar);
      all_masks.insert(all_masks.end(), r.mask_us.begin(), r.mask_us.end());
      nlohmann::json out = {{"line", n}, {"accepted", r.accepted}};
      if (!r.accepted) out["error"] = r.error;
      std::printf("%s\n", out.dump().c_str());
      if (!r.accepted) exit_code = kExitFailure;
    }
  } else {
    std::string text;
    if (instance_path == "-") {
      std::ostringstream buffer;
      buffer << std::cin.rdbuf();
      text = buffer.str();
    } else {
      StatusOr<std::string> file = ReadFile(instance_path);
      if (!file.ok()) return Failure(kCommand, file.status().ToString());
      text = *file;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    Replay r = ReplayDocument(text, **tokenizer, matcher, *grammar);
    all_masks = r.mask_us;
    if (r.accepted) {
      std::fprintf(stderr, "accepted: %zu tokens\n", r.tokens);
    } else {
      std::fprintf(stderr, "quicksilver %s: %s\n", kCommand, r.error.c_str());
      exit_code = kExitFailure;
    }
  }
  if (stats) {
    nlohmann::json out = {{"compile_ms", compile_ms},
                          {"vocab_size", matcher.vocab_size()},
                          {"mask_us", Percentiles(all_masks)}};
    std::printf("%s\n", out.dump().c_str());
  }
  return exit_code;
}

}  // namespace

int RunSchema(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver schema SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  check     replay a JSON document through a schema's grammar matcher\n";
  if (args.empty()) return UsageError("schema", "missing subcommand (check)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "check") return RunSchemaCheck({args.begin() + 1, args.end()});
  return UsageError("schema", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
