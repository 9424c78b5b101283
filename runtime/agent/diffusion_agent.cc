#include "runtime/agent/diffusion_agent.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "model/diffusion_lm.h"
#include "model/tokenizer/chat_format.h"
#include "model/tokenizer/tokenizer.h"
#include "runtime/agent/agent_protocol.h"
#include "runtime/agent/context_values.h"
#include "runtime/json_schema/schema.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/schema_constraint.h"
#include "runtime/structured/token_matcher.h"

namespace qs::agent {

namespace {

std::string BaseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The checkpoint's "quicksilver_agent_prompt" (tokenizer_config.json); full when absent.
StatusOr<PromptStyle> PromptStyleOfCheckpoint(const std::string& dir) {
  const std::string path = dir + "/tokenizer_config.json";
  if (!std::filesystem::exists(path)) return PromptStyle::kFull;
  QS_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  const nlohmann::json config = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!config.is_object() || !config.contains("quicksilver_agent_prompt")) {
    return PromptStyle::kFull;  // a malformed file is reported by the chat format's reader
  }
  const nlohmann::json& style = config["quicksilver_agent_prompt"];
  if (!style.is_string()) {
    return InvalidArgument(path + ": quicksilver_agent_prompt must be \"full\" or \"compact\"");
  }
  StatusOr<PromptStyle> parsed = ParsePromptStyle(style.get<std::string>());
  if (!parsed.ok()) return InvalidArgument(path + ": " + parsed.status().message());
  return parsed;
}

}  // namespace

std::vector<std::string> TokenBytesForGrammar(const model::Tokenizer& tokenizer) {
  std::vector<std::string> bytes(static_cast<size_t>(tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (!tokenizer.IsSpecialToken(id)) bytes[static_cast<size_t>(id)] = tokenizer.TokenBytes(id);
  }
  return bytes;
}

DraftPrefix ReadDraft(const std::shared_ptr<const structured::JsonGrammar>& grammar,
                      const std::vector<std::string>& token_bytes,
                      const std::vector<int32_t>& ids) {
  DraftPrefix out;
  structured::JsonMatcher reader(grammar);
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= token_bytes.size()) break;
    const std::string& bytes = token_bytes[static_cast<size_t>(id)];
    if (bytes.empty() || !reader.AdvanceBytes(bytes)) break;
    ++out.tokens;
    out.bytes += bytes;
    if (reader.IsComplete()) {
      out.complete = true;
      break;
    }
  }
  return out;
}

model::ModelConfig RandomConfigFor(const model::Tokenizer& tokenizer) {
  model::ModelConfig c;
  c.arch = model::Architecture::kLlada;
  c.model_type = "llada";
  c.hidden_size = 64;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 4;
  c.head_dim = 16;
  c.intermediate_size = 128;
  const int32_t mask = tokenizer.TokenId("<|mask|>");
  const int32_t eos = tokenizer.TokenId("<|endoftext|>");
  // Room for a mask id after the vocabulary when the tokenizer has none; a multiple of 64.
  c.vocab_size = (tokenizer.vocab_size() + (mask >= 0 ? 0 : 1) + 63) / 64 * 64;
  c.mask_token_id = mask >= 0 ? mask : c.vocab_size - 1;
  c.eos_token_id = eos >= 0 ? eos : c.vocab_size - 2;
  return c;
}

std::unique_ptr<model::DiffusionLm> RandomModelFor(const model::Tokenizer& tokenizer,
                                                   uint64_t seed) {
  return model::DiffusionLm::Random(RandomConfigFor(tokenizer), seed);
}

DiffusionAgentModel::DiffusionAgentModel(std::unique_ptr<model::DiffusionLm> lm,
                                         std::unique_ptr<model::Tokenizer> tokenizer,
                                         std::unique_ptr<model::ChatFormat> chat, std::string name)
    : lm_(std::move(lm)),
      tokenizer_(std::move(tokenizer)),
      chat_(std::move(chat)),
      name_(std::move(name)) {
  token_bytes_ = TokenBytesForGrammar(*tokenizer_);
  matcher_ = std::make_unique<structured::TokenMatcher>(
      token_bytes_, std::vector<int32_t>{static_cast<int32_t>(lm_->config().eos_token_id)});
}

DiffusionAgentModel::~DiffusionAgentModel() = default;

StatusOr<std::unique_ptr<DiffusionAgentModel>> DiffusionAgentModel::Load(const std::string& dir) {
  QS_ASSIGN_OR_RETURN(std::unique_ptr<model::DiffusionLm> lm, model::DiffusionLm::Load(dir));
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::Tokenizer::Load(dir);
  if (!tokenizer.ok()) {
    return Status(tokenizer.status().code(),
                  "the model folder " + dir +
                      " needs its tokenizer.json for agent turns: " + tokenizer.status().message());
  }
  QS_ASSIGN_OR_RETURN(model::ChatFormat chat,
                      model::ChatFormatForCheckpoint(dir, lm->config().model_type));
  QS_ASSIGN_OR_RETURN(PromptStyle prompt_style, PromptStyleOfCheckpoint(dir));
  const model::ModelConfig& c = lm->config();
  if (c.eos_token_id < 0 || c.mask_token_id < 0) {
    return InvalidArgument(dir + "/config.json: agent turns need eos_token_id and mask_token_id");
  }
  if ((*tokenizer)->vocab_size() > c.vocab_size) {
    return InvalidArgument(
        dir + ": tokenizer.json has " + std::to_string((*tokenizer)->vocab_size()) +
        " tokens but config.json's vocab_size is " + std::to_string(c.vocab_size));
  }
  std::unique_ptr<DiffusionAgentModel> agent(
      new DiffusionAgentModel(std::move(lm), std::move(tokenizer).value(),
                              std::make_unique<model::ChatFormat>(chat), BaseName(dir)));
  agent->prompt_style_ = prompt_style;
  return agent;
}

StatusOr<std::unique_ptr<DiffusionAgentModel>> DiffusionAgentModel::Random(
    const std::string& tokenizer_dir, uint64_t seed) {
  QS_ASSIGN_OR_RETURN(std::unique_ptr<model::Tokenizer> tokenizer,
                      model::Tokenizer::Load(tokenizer_dir));
  std::unique_ptr<model::DiffusionLm> lm = RandomModelFor(*tokenizer, seed);
  return std::unique_ptr<DiffusionAgentModel>(new DiffusionAgentModel(
      std::move(lm), std::move(tokenizer),
      std::make_unique<model::ChatFormat>(model::ChatFormat::ChatMl()), "random"));
}

std::string DiffusionAgentModel::PromptText(const workflows::AgentRequest& request) const {
  return chat_->Render(ChatMessages(request, prompt_style_));
}

StatusOr<std::shared_ptr<const structured::JsonGrammar>> DiffusionAgentModel::GrammarFor(
    const workflows::AgentRequest& request) {
  const ConversationValues values(request.messages);  // read once, for tools and answer
  StatusOr<std::vector<tools::ToolSpec>> callable = CallableTools(values, request.tools);
  if (!callable.ok()) {
    return Status(callable.status().code(),
                  "node '" + request.node_id + "': " + callable.status().message());
  }
  QS_ASSIGN_OR_RETURN(nlohmann::ordered_json schema, TurnSchema(*callable, request.answer_schema));
  if (Status s = ResolveContextValues(values, &schema); !s.ok()) {
    return Status(s.code(), "node '" + request.node_id + "': the turn schema " + s.message());
  }
  const std::string key = schema.dump();
  auto it = grammars_.find(key);
  if (it != grammars_.end()) return it->second;
  // Schemas with values from the conversation differ from turn to turn: keep the cache small.
  if (grammars_.size() >= kMaxCachedGrammars) grammars_.clear();
  StatusOr<json_schema::Schema> compiled = json_schema::Compile(schema);
  if (!compiled.ok()) {
    return Status(compiled.status().code(), "node '" + request.node_id +
                                                "': the turn schema (tools' parameters and "
                                                "answer schema) does not compile: " +
                                                compiled.status().message());
  }
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> grammar =
      structured::JsonGrammar::Compile(*compiled, structured::GrammarMode::kGenerate);
  if (!grammar.ok()) {
    return Status(grammar.status().code(), "node '" + request.node_id +
                                               "': the model cannot be constrained to these "
                                               "tools' schemas: " +
                                               grammar.status().message());
  }
  // The grammar points into the compiled schema's nodes (number bounds, patterns): the
  // pointer handed out owns both, so the schema lives as long as any user of the grammar.
  struct SchemaAndGrammar {
    json_schema::Schema schema;
    std::shared_ptr<const structured::JsonGrammar> grammar;
  };
  auto both = std::make_shared<SchemaAndGrammar>(
      SchemaAndGrammar{std::move(compiled).value(), std::move(grammar).value()});
  std::shared_ptr<const structured::JsonGrammar> owning(both, both->grammar.get());
  grammars_.emplace(key, owning);
  return owning;
}

StatusOr<int64_t> DiffusionAgentModel::RepredictDraftStart(
    const std::vector<int32_t>& prompt,
    const std::shared_ptr<const structured::JsonGrammar>& grammar, int64_t gen_length,
    std::vector<int32_t>* draft, int64_t* forwards) {
  const size_t n = std::min(draft->size(), kRepredictedDraftTokens);
  // The canvas as the draft reads: its tokens, then EOS to the end (the answer is cut at
  // the first EOS, so whatever the sampler left after it reads as EOS too).
  std::vector<int32_t> canvas = *draft;
  const int32_t eos = static_cast<int32_t>(lm_->config().eos_token_id);
  if (static_cast<int64_t>(canvas.size()) < gen_length) canvas.resize(gen_length, eos);
  structured::JsonMatcher state(grammar);
  std::vector<uint32_t> mask(static_cast<size_t>(matcher_->mask_words()));
  int64_t changed = 0;
  for (size_t i = 0; i < n; ++i) {
    matcher_->FillMask(state, mask.data());
    QS_ASSIGN_OR_RETURN(std::vector<float> logits,
                        lm_->PredictAt(prompt, canvas, static_cast<int64_t>(i)));
    ++*forwards;
    int32_t best = -1;
    for (size_t id = 0; id < logits.size() && id < token_bytes_.size(); ++id) {
      const bool allowed = ((mask[id >> 5] >> (id & 31)) & 1u) != 0;
      if (!allowed || matcher_->IsEos(static_cast<int32_t>(id))) continue;
      if (best < 0 || logits[id] > logits[static_cast<size_t>(best)]) {
        best = static_cast<int32_t>(id);
      }
    }
    if (best < 0 || !matcher_->AcceptToken(&state, best)) break;
    if (best != canvas[i]) {
      canvas[i] = best;
      (*draft)[i] = best;
      ++changed;
    }
  }
  return changed;
}

StatusOr<workflows::AgentResponse> DiffusionAgentModel::Generate(
    const workflows::AgentRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const workflows::ModelSpec spec = request.model ? *request.model : workflows::ModelSpec();
  const std::vector<int32_t> prompt = tokenizer_->Encode(PromptText(request));
  const int64_t total = static_cast<int64_t>(prompt.size()) + spec.gen_length;
  if (total > spec.max_tokens) {
    return OutOfRange("node '" + request.node_id + "': the prompt has " +
                      std::to_string(prompt.size()) + " tokens and the turn " +
                      std::to_string(spec.gen_length) + " (model.gen_length), " +
                      std::to_string(total) +
                      " in all, over model.max_tokens = " + std::to_string(spec.max_tokens) +
                      " (raise max_tokens, or shorten the prompt or tool results)");
  }
  QS_ASSIGN_OR_RETURN(std::shared_ptr<const structured::JsonGrammar> grammar, GrammarFor(request));
  const int32_t eos = static_cast<int32_t>(lm_->config().eos_token_id);
  structured::SchemaConstraint constraint(matcher_.get(), grammar, eos);
  if (Status s = constraint.CheckBudget(spec.gen_length); !s.ok()) {
    return Status(s.code(),
                  "node '" + request.node_id + "': " + s.message() + " (raise model.gen_length)");
  }

  model::GenerateOptions options = lm_->DefaultOptions();
  model::SamplerConfig& sc = options.sampler;
  sc.temperature = spec.temperature;
  sc.seed = static_cast<uint64_t>(spec.seed);
  // The schedule of a canvas of `gen_length` tokens.
  auto set_schedule = [&](int64_t gen_length) {
    sc.gen_length = gen_length;
    sc.steps = std::min<int64_t>(spec.steps, gen_length);
    if (sc.kind == model::SamplerKind::kDream) {
      sc.block_length = 0;  // Dream denoises the whole answer at once
      return;
    }
    sc.block_length =
        spec.block_length > 0 && gen_length % spec.block_length == 0 ? spec.block_length : 0;
    if (sc.block_length > 0) {
      // Steps split evenly over the blocks.
      const int64_t blocks = gen_length / sc.block_length;
      sc.steps = std::max<int64_t>(blocks, sc.steps / blocks * blocks);
    }
    if (spec.threshold) {
      sc.kind = model::SamplerKind::kFastDllmThreshold;
      sc.threshold = *spec.threshold;
      constraint.SetParallelThreshold(*spec.threshold);
    }
  };
  set_schedule(spec.gen_length);

  // Draft first (ModelSpec::draft): the sampler denoises the turn in its own order, without
  // the constraint, and the grammar reads the draft. A complete valid turn is the answer; else
  // its longest valid prefix (whole tokens) stays as the start of the turn and the constraint
  // writes the rest from there. The turn is valid either way, and the model's decisions
  // (which tool, which value) are made with the whole canvas in view rather than at the
  // first masked token with everything after it still masked.
  std::vector<int32_t> prefix;
  bool draft_complete = false;
  int64_t repredicted = 0;
  int64_t draft_calls = 0;
  double draft_seconds = 0;
  if (spec.draft) {
    StatusOr<model::GenerateResult> draft = lm_->Generate(prompt, options, nullptr);
    if (!draft.ok()) {
      return Status(draft.status().code(), "node '" + request.node_id +
                                               "': the draft failed: " + draft.status().message());
    }
    draft_calls = draft->model_calls;
    draft_seconds = draft->seconds;
    DraftPrefix valid = ReadDraft(grammar, token_bytes_, draft->ids);
    if (!valid.complete && valid.tokens < draft->ids.size()) {
      // The grammar refused a token of the draft. Its first tokens (call or answer, which
      // tool) were committed early, with most of the canvas still masked, and an invalid
      // draft often has them at odds with the rest: {"answer":"trackorder shipment",
      // "arguments":{"tracking_id":...}}. Re-predicted with the finished draft in view,
      // they agree with it; the constraint then writes whatever no longer fits.
      const auto t0 = std::chrono::steady_clock::now();
      int64_t forwards = 0;
      StatusOr<int64_t> changed =
          RepredictDraftStart(prompt, grammar, spec.gen_length, &draft->ids, &forwards);
      if (!changed.ok()) {
        return Status(changed.status().code(),
                      "node '" + request.node_id +
                          "': re-predicting the draft failed: " + changed.status().message());
      }
      draft_calls += forwards;
      draft_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      repredicted = *changed;
      if (*changed > 0) valid = ReadDraft(grammar, token_bytes_, draft->ids);
    }
    prefix.assign(draft->ids.begin(), draft->ids.begin() + static_cast<int64_t>(valid.tokens));
    draft_complete = valid.complete;
    if (!draft_complete) {
      const int64_t room = spec.gen_length - static_cast<int64_t>(prefix.size());
      if (!constraint.StartAfter(valid.bytes).ok() || !constraint.CheckBudget(room).ok()) {
        // No room to finish after this prefix: start over under the constraint.
        prefix.clear();
        constraint = structured::SchemaConstraint(matcher_.get(), grammar, eos);
      }
      set_schedule(spec.gen_length - static_cast<int64_t>(prefix.size()));
    }
  }

  model::GenerateResult result;
  if (draft_complete) {
    result.ids = prefix;
  } else {
    std::vector<int32_t> constrained_prompt = prompt;
    constrained_prompt.insert(constrained_prompt.end(), prefix.begin(), prefix.end());
    StatusOr<model::GenerateResult> r = lm_->Generate(constrained_prompt, options, &constraint);
    if (!r.ok()) {
      return Status(r.status().code(),
                    "node '" + request.node_id + "': generation failed: " + r.status().message());
    }
    result = std::move(r).value();
    result.ids.insert(result.ids.begin(), prefix.begin(), prefix.end());
  }
  result.model_calls += draft_calls;
  result.seconds += draft_seconds;
  const model::GenerateResult* r = &result;
  const std::string text = tokenizer_->Decode(r->ids);
  StatusOr<workflows::AgentResponse> response = ParseTurn(text);
  if (!response.ok()) {
    // The grammar only admits complete turns; reaching this is a bug worth reporting.
    return Internal("node '" + request.node_id + "': the constrained turn did not parse (" +
                    response.status().message() + ")");
  }
  const structured::ConstraintStats& st = constraint.stats();
  last_turn_ = TurnReport();
  last_turn_.prompt_tokens = static_cast<int64_t>(prompt.size());
  last_turn_.model_tokens = st.model_tokens;
  last_turn_.forced_tokens = st.forced_tokens;
  last_turn_.model_calls = r->model_calls;
  last_turn_.constraint_ms = st.constraint_seconds * 1000.0;
  last_turn_.model_ms = std::max(0.0, r->seconds - st.constraint_seconds) * 1000.0;
  last_turn_.drafted = spec.draft;
  last_turn_.draft_kept = static_cast<int64_t>(prefix.size());
  last_turn_.draft_complete = draft_complete;
  last_turn_.draft_repredicted = repredicted;
  last_turn_.text = text;
  workflows::GenerationStats& stats = response->stats;
  stats.model_name = name_;
  stats.input_tokens = static_cast<int64_t>(prompt.size());
  stats.output_tokens = static_cast<int64_t>(r->ids.size());
  stats.denoising_steps = static_cast<int>(r->steps);
  stats.model_calls = r->model_calls;
  stats.forced_tokens = st.forced_tokens;
  stats.draft_kept_tokens = spec.draft ? static_cast<int64_t>(prefix.size()) : -1;
  stats.constraint_ms = last_turn_.constraint_ms;
  stats.latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return response;
}

}  // namespace qs::agent
