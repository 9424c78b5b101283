// quicksilver schema check: replay a JSON document, tokenized by a model's tokenizer,
// through the constrained decoder's grammar matcher, computing the full allowed-token mask
// at every position (the mask benchmark of docs/PERFORMANCE.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/files.h"
#include "model/diffusion_lm.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/agent/diffusion_agent.h"
#include "runtime/cli/command.h"
#include "runtime/json_schema/schema.h"
#include "runtime/json_schema/validator.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/schema_constraint.h"
#include "runtime/structured/token_matcher.h"

namespace qs::cli {

namespace {

constexpr const char* kCommand = "schema check";

json_schema::CompileOptions IgnoreOptions(const std::string& list);

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
  std::string ignore;
  flags.String("ignore-unsupported", &ignore,
               "Keywords to ignore instead of failing (comma-separated, or 'all'); they are "
               "then not enforced");
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
  StatusOr<json_schema::Schema> schema = json_schema::Compile(schema_json, IgnoreOptions(ignore));
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
  structured::TokenMatcher matcher(agent::TokenBytesForGrammar(**tokenizer), {});

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

// --ignore-unsupported: "uniqueItems,contains" or "all". Ignored keywords are not
// enforced: documents may then violate them (the caller's explicit choice).
json_schema::CompileOptions IgnoreOptions(const std::string& list) {
  json_schema::CompileOptions options;
  for (size_t start = 0; start < list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string keyword = list.substr(start, comma - start);
    if (keyword == "all") options.ignore_all_unsupported = true;
    if (!keyword.empty()) options.ignore_unsupported.insert(keyword);
    start = comma + 1;
  }
  return options;
}

// Loads SCHEMA.json keeping the declared property order (the generation order).
StatusOr<json_schema::Schema> LoadSchema(const std::string& path,
                                         const json_schema::CompileOptions& options = {}) {
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, false);
  if (json.is_discarded()) return InvalidArgument(path + " is not valid JSON");
  return json_schema::Compile(json, options);
}

int RunSchemaSample(const std::vector<std::string>& args) {
  const std::string cmd = "schema sample";
  std::string model_dir, tokenizer_dir, prompt = "Write one JSON document.\n";
  int64_t seed = 0, max_tokens = 128;
  double temperature = 0.0;
  bool json_output = false;
  FlagSet flags(cmd,
                "Generate one document valid against SCHEMA.json by constrained denoising.\n"
                "--model random builds a small random-weight model over --tokenizer's vocabulary:\n"
                "then the constraint alone makes the output valid.",
                "SCHEMA.json");
  flags.String("model", &model_dir, "Checkpoint folder, or 'random'", true);
  flags.String("tokenizer", &tokenizer_dir, "Folder with tokenizer.json (default: the model's)");
  flags.Int("seed", &seed, "Random seed (weights of the random model, sampling)");
  flags.Int("max-tokens", &max_tokens, "Token budget of the document");
  flags.Double("temperature", &temperature, "Sampling temperature (0 = greedy)");
  flags.String("prompt", &prompt, "Prompt text before the document");
  std::string ignore;
  flags.String("ignore-unsupported", &ignore,
               "Keywords to ignore instead of failing (comma-separated, or 'all'); they are "
               "then not enforced");
  flags.Bool("json", &json_output, "Print {document, valid, stats} as JSON");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (flags.positional().size() != 1) return UsageError(cmd, "expected one SCHEMA.json");
  if (tokenizer_dir.empty()) {
    if (model_dir == "random") return UsageError(cmd, "--model random needs --tokenizer DIR");
    tokenizer_dir = model_dir;
  }
  const std::string schema_path = flags.positional()[0];
  StatusOr<json_schema::Schema> schema = LoadSchema(schema_path, IgnoreOptions(ignore));
  auto schema_error = [&](const Status& s) {
    const std::string message = s.code() == StatusCode::kUnsupported ? s.message() : s.ToString();
    std::fprintf(stderr, "quicksilver %s: %s: %s\n", cmd.c_str(), schema_path.c_str(),
                 message.c_str());
    return s.code() == StatusCode::kUnsupported ? kExitUsage : kExitFailure;
  };
  if (!schema.ok()) return schema_error(schema.status());
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kGenerate);
  if (!grammar.ok()) return schema_error(grammar.status());
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(tokenizer_dir);
  if (!tokenizer.ok()) return Failure(cmd, tokenizer.status().ToString());

  std::unique_ptr<model::DiffusionLm> lm;
  if (model_dir == "random") {
    lm = agent::RandomModelFor(**tokenizer, static_cast<uint64_t>(seed));
  } else {
    StatusOr<std::unique_ptr<model::DiffusionLm>> loaded = model::DiffusionLm::Load(model_dir);
    if (!loaded.ok()) return Failure(cmd, loaded.status().ToString());
    lm = std::move(loaded).value();
  }
  const int64_t eos_id = lm->config().eos_token_id;
  if (eos_id < 0) return Failure(cmd, "the model's config.json has no eos_token_id");

  structured::TokenMatcher matcher(agent::TokenBytesForGrammar(**tokenizer),
                                   {static_cast<int32_t>(eos_id)});
  structured::SchemaConstraint constraint(&matcher, *grammar, static_cast<int32_t>(eos_id));
  if (Status s = constraint.CheckBudget(max_tokens); !s.ok()) return Failure(cmd, s.message());

  model::GenerateOptions options = lm->DefaultOptions();
  options.sampler.gen_length = max_tokens;
  options.sampler.steps = max_tokens;
  options.sampler.block_length = 0;
  options.sampler.temperature = temperature;
  options.sampler.seed = static_cast<uint64_t>(seed);
  StatusOr<model::GenerateResult> r =
      lm->Generate((*tokenizer)->Encode(prompt), options, &constraint);
  if (!r.ok()) return Failure(cmd, r.status().ToString());
  const std::string document = (*tokenizer)->Decode(r->ids);

  // The grammar guarantees validity; check it anyway with the independent validator.
  std::string verdict = "valid";
  nlohmann::json parsed = nlohmann::json::parse(document, nullptr, false);
  if (parsed.is_discarded()) {
    verdict = "not JSON";
  } else if (Status v = json_schema::Validate(*schema, parsed); !v.ok()) {
    verdict = v.message();
  }
  const structured::ConstraintStats& st = constraint.stats();
  const double model_seconds = std::max(0.0, r->seconds - st.constraint_seconds);
  if (json_output) {
    nlohmann::json out = {{"document", document},
                          {"valid", verdict == "valid"},
                          {"tokens", r->ids.size()},
                          {"model_tokens", st.model_tokens},
                          {"forced_tokens", st.forced_tokens},
                          {"steps", r->steps},
                          {"model_calls", r->model_calls},
                          {"constraint_seconds", st.constraint_seconds},
                          {"model_seconds", model_seconds}};
    if (verdict != "valid") out["error"] = verdict;
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("%s\n", document.c_str());
  }
  std::fprintf(stderr,
               "schema sample: %zu tokens (%lld from the model, %lld forced without a model "
               "call), %lld steps, %lld model calls; constraint %.3f s, model %.3f s\n",
               r->ids.size(), static_cast<long long>(st.model_tokens),
               static_cast<long long>(st.forced_tokens), static_cast<long long>(r->steps),
               static_cast<long long>(r->model_calls), st.constraint_seconds, model_seconds);
  if (verdict != "valid") {
    return Failure(cmd, "internal error: the generated document is invalid: " + verdict);
  }
  return kExitOk;
}

// The mask benchmark over a folder of tool schemas and real-looking instances, one
// tokenizer; all masks pooled (MaskBench reports the same figures per mask).
int RunSchemaBench(const std::vector<std::string>& args) {
  constexpr const char* kBench = "schema bench";
  std::string dir, tokenizer_dir;
  FlagSet flags(kBench,
                "For every NAME.jsonl in --dir with a schema NAME.json in --schemas, compile the\n"
                "schema (kAccept, as schema check) and replay each line, computing the full\n"
                "allowed-token mask before every token. Prints per-schema and pooled mask times\n"
                "(mean, p50, p99, max in microseconds) and compile times.");
  std::string schemas_dir;
  flags.String("dir", &dir, "Folder of NAME.jsonl instance files", true);
  flags.String("schemas", &schemas_dir, "Folder of NAME.json schemas", true);
  flags.String("tokenizer", &tokenizer_dir, "Folder with tokenizer.json", true);
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(tokenizer_dir);
  if (!tokenizer.ok()) return Failure(kBench, tokenizer.status().ToString());
  const auto build0 = std::chrono::steady_clock::now();
  // One matcher per vocabulary, as the runtime keeps it; its caches are per grammar, so
  // every schema starts cold.
  structured::TokenMatcher matcher(agent::TokenBytesForGrammar(**tokenizer), {});
  const double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - build0).count();
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".jsonl") names.push_back(entry.path().stem().string());
  }
  if (ec) return Failure(kBench, "cannot list " + dir + ": " + ec.message());
  if (names.empty()) return Failure(kBench, "no NAME.jsonl files in " + dir);
  std::sort(names.begin(), names.end());
  std::printf("vocabulary %d tokens (%s); matcher tables built in %.1f ms\n", matcher.vocab_size(),
              tokenizer_dir.c_str(), build_ms);
  std::vector<double> all_masks, compile_ms;
  std::vector<std::pair<double, std::string>> slowest;  // (us, where)
  for (const std::string& name : names) {
    const std::string schema_path = schemas_dir + "/" + name + ".json";
    const auto t0 = std::chrono::steady_clock::now();
    StatusOr<json_schema::Schema> schema = LoadSchema(schema_path);
    if (!schema.ok()) return Failure(kBench, schema.status().ToString());
    StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
        structured::JsonGrammar::Compile(*schema, structured::GrammarMode::kAccept);
    if (!grammar.ok()) return Failure(kBench, schema_path + ": " + grammar.status().ToString());
    compile_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    std::ifstream in(dir + "/" + name + ".jsonl");
    std::vector<double> masks;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      Replay r = ReplayDocument(line, **tokenizer, matcher, *grammar);
      if (!r.accepted) {
        return Failure(kBench, dir + "/" + name + ".jsonl:" + std::to_string(n) + ": " + r.error);
      }
      masks.insert(masks.end(), r.mask_us.begin(), r.mask_us.end());
      for (size_t t = 0; t < r.mask_us.size(); ++t) {
        slowest.push_back(
            {r.mask_us[t], name + ".jsonl:" + std::to_string(n) + " token " + std::to_string(t)});
      }
    }
    const nlohmann::json p = Percentiles(masks);
    std::printf(
        "%-16s compile %6.2f ms  masks %4zu  mean %7.1f  p50 %7.1f  p99 %7.1f  max %7.1f us\n",
        name.c_str(), compile_ms.back(), masks.size(), p.value("mean", 0.0), p.value("p50", 0.0),
        p.value("p99", 0.0), masks.empty() ? 0.0 : *std::max_element(masks.begin(), masks.end()));
    all_masks.insert(all_masks.end(), masks.begin(), masks.end());
  }
  const nlohmann::json p = Percentiles(all_masks);
  std::sort(compile_ms.begin(), compile_ms.end());
  std::printf(
      "%-16s compile p50 %.2f ms  masks %4zu  mean %7.1f  p50 %7.1f  p99 %7.1f  max %7.1f us\n",
      "all", compile_ms[compile_ms.size() / 2], all_masks.size(), p.value("mean", 0.0),
      p.value("p50", 0.0), p.value("p99", 0.0),
      *std::max_element(all_masks.begin(), all_masks.end()));
  std::sort(slowest.begin(), slowest.end(), std::greater<>());
  std::printf("slowest masks:");
  for (size_t i = 0; i < slowest.size() && i < 5; ++i) {
    std::printf("%s %.0f us (%s)", i == 0 ? "" : ",", slowest[i].first, slowest[i].second.c_str());
  }
  std::printf("\n");
  return kExitOk;
}

}  // namespace

int RunSchema(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver schema SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  check     replay a JSON document through a schema's grammar matcher\n"
      "  sample    generate a document valid against a schema (constrained denoising)\n"
      "  bench     mask times over a folder of schemas and instances (the mask benchmark)\n";
  if (args.empty()) return UsageError("schema", "missing subcommand (check, sample, bench)");
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "check") return RunSchemaCheck({args.begin() + 1, args.end()});
  if (args[0] == "sample") return RunSchemaSample({args.begin() + 1, args.end()});
  if (args[0] == "bench") return RunSchemaBench({args.begin() + 1, args.end()});
  return UsageError("schema", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
