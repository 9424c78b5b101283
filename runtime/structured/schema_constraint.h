// The JSON-Schema constraint for the denoising loop (model/constraint.h): the generated
// region must always stay completable to a document the grammar accepts, within the
// tokens left.
//
// The baseline of the design brief: positions are committed left to right from the first
// masked position of the answer (one model choice per step, chosen among grammar-valid,
// budget-respecting tokens, or a run of confident ones: SetParallelThreshold), and the bytes
// the grammar forces (the skeleton: braces, keys,
// fixed strings) are committed at once without a model call, as the longest token that
// spells a prefix of them. Once the document is complete only EOS is allowed.
// Budget: every byte is a token in byte-level BPE, so MinBytesToClose() tokens always
// suffice to close; a mask keeps only tokens after which that still fits.
//
// Thread safety: one generation at a time (it follows the commits).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/constraint.h"
#include "runtime/structured/json_grammar.h"
#include "runtime/structured/token_matcher.h"

namespace qs::structured {

struct ConstraintStats {
  int64_t model_tokens = 0;   // committed from the model's choices
  int64_t forced_tokens = 0;  // committed without a model call (jump-forward)
  int64_t masks = 0;
  double constraint_seconds = 0;  // time in the hooks (masks, forcing, bookkeeping)
};

class SchemaConstraint : public model::Constraint {
 public:
  // matcher: built once per vocabulary (token bytes + EOS ids) and shared across
  // generations on one thread. eos_id: the token the sampler fills the rest with.
  SchemaConstraint(TokenMatcher* matcher, std::shared_ptr<const JsonGrammar> grammar,
                   int32_t eos_id);

  // Starts the document with `bytes` already written (tokens the caller puts before the
  // canvas, e.g. a draft's grammar-valid prefix). InvalidArgument when the grammar rejects
  // them. Call before generating.
  Status StartAfter(std::string_view bytes);

  // Whether the shortest document fits in `tokens`; the message has the numbers.
  Status CheckBudget(int64_t tokens) const;

  // Parallel commits (the design brief's baseline, after Fast-dLLM's threshold rule): per
  // step, the first masked position takes the model's best grammar-valid token, and each
  // following position, in order, its unconstrained proposal while that proposal's
  // confidence is at least `threshold`, the grammar accepts it and the document still fits.
  // Off (one model token per step) unless set; threshold in (0, 1].
  void SetParallelThreshold(double threshold) { parallel_threshold_ = threshold; }

  Status ForcedTokens(const model::CanvasView& canvas,
                      std::vector<model::TokenCommit>* forced) override;
  bool MayCommit(const model::CanvasView& canvas, int64_t position) override;
  bool AllowedTokens(const model::CanvasView& canvas, int64_t position, int vocab,
                     uint32_t* words) override;
  void ChooseCommits(const model::CanvasView& canvas,
                     const std::vector<model::ProposedToken>& proposals,
                     std::vector<int64_t>* chosen) override;
  Status OnCommit(const model::CanvasView& canvas,
                  const std::vector<model::TokenCommit>& commits) override;

  const JsonMatcher& state() const { return state_; }
  const ConstraintStats& stats() const { return stats_; }

 private:
  int64_t Frontier(const model::CanvasView& canvas) const;

  TokenMatcher* matcher_;
  std::shared_ptr<const JsonGrammar> grammar_;
  JsonMatcher state_;
  int32_t eos_id_;
  bool forcing_ = false;             // the commits being reported were forced
  double parallel_threshold_ = 2.0;  // > 1: off
  std::vector<uint32_t> mask_;
  ConstraintStats stats_;
};

}  // namespace qs::structured
