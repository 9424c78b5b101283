// Hooks that the denoising loop (sampler.h) offers to code outside model/, torch-free:
//   Constraint    restricts what the sampler may commit; a grammar (JSON-Schema-constrained
//                 decoding) implements it.
//   StepObserver  sees the canvas after every step (`generate --show-steps`).
//
// Per step the sampler (1) asks ForcedTokens and commits those tokens without a model
// call, asking again until none are returned; (2) for every masked position in the step's
// scope asks MayCommit, and for those that may be committed AllowedTokens; (3) calls the
// model, sets disallowed tokens' logits to -inf, picks tokens and confidences, selects
// positions by its rule and lets ChooseCommits revise the selection; (4) commits it and
// reports all commits through OnCommit.
// A position whose bitmask allows no token is treated as not committable. If a step can
// commit nothing (no forced token, no committable position) the generation fails with
// FailedPrecondition rather than loop.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace qs::model {

// One canvas row: prompt then generation; `mask_id` where nothing is committed yet.
struct CanvasView {
  const int32_t* tokens = nullptr;
  int64_t length = 0;
  int64_t prompt_length = 0;
  int32_t mask_id = -1;
  bool masked(int64_t position) const { return tokens[position] == mask_id; }
};

struct TokenCommit {
  int64_t position = 0;  // index into the canvas (the prompt comes first)
  int32_t token = 0;
};

// The model's pick at one candidate position of a step.
struct ProposedToken {
  int64_t position = 0;
  int32_t token = 0;
  double confidence = 0;  // what the sampler ranks by (probability, margin, ...)
};

// Thread safety: the sampler calls a constraint from one thread during one generation; a
// constraint is stateful (it follows the commits) and serves one generation at a time.
// Constraints apply to batch size 1.
class Constraint {
 public:
  virtual ~Constraint() = default;

  // Appends positions whose token is already determined (e.g. the next literal of a JSON
  // skeleton). Each must be masked; the token must not be the mask id. An error aborts the
  // generation.
  virtual Status ForcedTokens(const CanvasView& canvas, std::vector<TokenCommit>* forced) {
    return Status::Ok();
  }

  // Whether the masked `position` may be committed in this step (e.g. only the first
  // masked position of the constrained region, so a grammar is followed left to right).
  virtual bool MayCommit(const CanvasView& canvas, int64_t position) { return true; }

  // The tokens allowed at a masked `position` that may be committed: sets bit t % 32 of
  // words[t / 32] for each allowed token t (the layout of kernels::BitmaskWords). `words`
  // holds BitmaskWords(vocab) zeroed words. Returns false to allow every token (then
  // `words` is ignored).
  virtual bool AllowedTokens(const CanvasView& canvas, int64_t position, int vocab,
                             uint32_t* words) = 0;

  // The final say on a step's commits. `proposals`: the model's pick at every candidate
  // position of the row, in position order; `chosen`: the indices into `proposals` that the
  // sampler's rule (schedule, threshold) selected, which the constraint may replace (e.g.
  // by the longest grammar-valid run from the first masked position). Leaving it empty
  // commits nothing this step. Default: keep the sampler's choice.
  virtual void ChooseCommits(const CanvasView& canvas, const std::vector<ProposedToken>& proposals,
                             std::vector<int64_t>* chosen) {}

  // One batch of commits, in position order, after it is written into `canvas`: the
  // forced tokens, the model's choices of a step, or the EOS fill (each its own call). An
  // error aborts the generation.
  virtual Status OnCommit(const CanvasView& canvas, const std::vector<TokenCommit>& commits) {
    return Status::Ok();
  }
};

struct StepEvent {
  int64_t step = 0;                 // steps done so far, this one included
  int64_t model_calls = 0;          // model calls so far (a CFG call counts once)
  const int32_t* canvas = nullptr;  // [batch, length], row-major
  int64_t batch = 0;
  int64_t length = 0;
  int64_t prompt_length = 0;
  int32_t mask_id = -1;
};

// Thread safety: called from the generating thread only.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  virtual void OnStep(const StepEvent& event) = 0;
};

}  // namespace qs::model
