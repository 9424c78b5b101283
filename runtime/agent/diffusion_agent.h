// The diffusion-model AgentModel (workflows/agent_model.h): one agent or llm turn is one
// constrained denoising of the turn JSON (agent_protocol.h) after the chat prompt.
//
//   auto model = DiffusionAgentModel::Load("path/to/checkpoint");  // with tokenizer.json
//   Executor executor(spec, {.model = model->get()});
//
// Per turn: the conversation is rendered in the checkpoint's chat format and tokenized;
// the turn schema (tools' parameter schemas + the answer schema, with "x-from-context"
// resolved against the conversation: context_values.h) is compiled to a grammar (cached
// per schema); with ModelSpec::draft the canvas is first denoised without the constraint
// and the grammar keeps the draft's longest valid prefix (all of it when it is a complete
// turn); the rest of the canvas of ModelSpec::gen_length tokens is denoised under the
// SchemaConstraint with the ModelSpec's schedule (threshold: Fast-dLLM parallel decoding,
// else LLaDA's fixed steps; Dream checkpoints use Dream's sampler); the text is parsed
// back. Errors say what to change: a prompt over ModelSpec::max_tokens, a gen_length too
// small for the shortest valid turn (with both numbers), a schema the grammar cannot
// enforce (keyword and pointer).
//
// Thread safety: Generate is called by one thread at a time (the executor serializes).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/io/model_config.h"
#include "runtime/agent/agent_protocol.h"
#include "workflows/agent_model.h"

namespace qs::model {
class DiffusionLm;
class Tokenizer;
struct ChatFormat;
}  // namespace qs::model

namespace qs::structured {
class JsonGrammar;
class TokenMatcher;
}  // namespace qs::structured

namespace qs::agent {

// Per-turn figures beyond GenerationStats (for `eval` and benchmarks).
struct TurnReport {
  int64_t prompt_tokens = 0;
  int64_t model_tokens = 0;   // committed from the model's choices
  int64_t forced_tokens = 0;  // committed by the grammar without a model call
  int64_t model_calls = 0;
  double constraint_ms = 0;
  double model_ms = 0;
  bool drafted = false;         // ModelSpec::draft: an unconstrained draft came first
  int64_t draft_kept = 0;       // tokens of the draft the grammar kept
  bool draft_complete = false;  // the draft was a complete valid turn (no constrained pass)
  // Tokens at the start of an invalid draft (the grammar refused one of its tokens) that
  // re-prediction changed (RepredictDraftStart).
  int64_t draft_repredicted = 0;
  std::string text;  // the turn as generated
};

class DiffusionAgentModel : public workflows::AgentModel {
 public:
  // A checkpoint folder holding tokenizer.json too; its chat format comes from
  // tokenizer_config.json's chat_template, else from model_type, and its system-message
  // style from tokenizer_config.json's "quicksilver_agent_prompt" (agent_protocol.h;
  // default full).
  static StatusOr<std::unique_ptr<DiffusionAgentModel>> Load(const std::string& dir);
  // A small random-weight model over `tokenizer_dir`'s vocabulary (ChatML): outputs are
  // nonsense but always valid turns. For tests and `--model random`.
  static StatusOr<std::unique_ptr<DiffusionAgentModel>> Random(const std::string& tokenizer_dir,
                                                               uint64_t seed);
  ~DiffusionAgentModel() override;

  StatusOr<workflows::AgentResponse> Generate(const workflows::AgentRequest& request) override;

  // The prompt text of a request (what Generate tokenizes).
  std::string PromptText(const workflows::AgentRequest& request) const;
  const TurnReport& last_turn() const { return last_turn_; }
  const std::string& name() const { return name_; }
  // How many tokens at the start of an invalid draft are re-predicted (RepredictDraftStart).
  static constexpr size_t kRepredictedDraftTokens = 4;

 private:
  DiffusionAgentModel(std::unique_ptr<model::DiffusionLm> lm,
                      std::unique_ptr<model::Tokenizer> tokenizer,
                      std::unique_ptr<model::ChatFormat> chat, std::string name);
  StatusOr<std::shared_ptr<const structured::JsonGrammar>> GrammarFor(
      const workflows::AgentRequest& request);
  // An invalid draft's first kRepredictedDraftTokens tokens, re-predicted one by one with
  // the rest of the draft in view and under the grammar; returns how many changed and adds
  // the forwards it ran to `forwards`.
  StatusOr<int64_t> RepredictDraftStart(
      const std::vector<int32_t>& prompt,
      const std::shared_ptr<const structured::JsonGrammar>& grammar, int64_t gen_length,
      std::vector<int32_t>* draft, int64_t* forwards);

  std::unique_ptr<model::DiffusionLm> lm_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::unique_ptr<model::ChatFormat> chat_;
  PromptStyle prompt_style_ = PromptStyle::kFull;
  std::vector<std::string> token_bytes_;  // per token id, for reading drafts
  std::unique_ptr<structured::TokenMatcher> matcher_;
  static constexpr size_t kMaxCachedGrammars = 64;
  std::map<std::string, std::shared_ptr<const structured::JsonGrammar>> grammars_;
  std::string name_;
  TurnReport last_turn_;
};

// A small random-weight LLaDA-style model over the tokenizer's vocabulary (mask and EOS
// ids appended when the tokenizer has no <|mask|> / <|endoftext|>). Shared with
// `schema sample --model random`.
std::unique_ptr<model::DiffusionLm> RandomModelFor(const model::Tokenizer& tokenizer,
                                                   uint64_t seed);
// RandomModelFor's config: its small shape, the vocabulary size and the mask / EOS ids.
model::ModelConfig RandomConfigFor(const model::Tokenizer& tokenizer);

// How much of an unconstrained draft (token ids, EOS cut off) a turn grammar accepts: the
// longest prefix of whole tokens, its bytes, and whether it is a complete document (reading
// stops there). Special tokens (no bytes) and ids outside token_bytes end the prefix.
struct DraftPrefix {
  size_t tokens = 0;
  std::string bytes;
  bool complete = false;
};
DraftPrefix ReadDraft(const std::shared_ptr<const structured::JsonGrammar>& grammar,
                      const std::vector<std::string>& token_bytes, const std::vector<int32_t>& ids);

// Every token's bytes for the grammar matcher; special tokens (<|im_end|>, ...) get none,
// so they are never part of a document.
std::vector<std::string> TokenBytesForGrammar(const model::Tokenizer& tokenizer);

}  // namespace qs::agent
