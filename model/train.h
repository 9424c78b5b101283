// Masked-diffusion training of a small LLaDA-layout model from a prompt/response corpus
// (`quicksilver train`). Torch-free interface; the LibTorch code is in train.cc.
//
// The objective is LLaDA's supervised fine-tuning loss (Nie et al. 2025, "Large Language
// Diffusion Models", SFT objective): per sequence, ids = prompt + response + EOS, padded
// with EOS to the batch length (the padding belongs to the response and is trained on);
// a masking ratio t per sequence (TrainOptions::mask_sampling: exactly k of the n
// response tokens with k uniform in 1..n, t = k / n; or LLaDA's t ~ U(0, 1) with each token
// masked with probability t), the prompt never masked; loss = sum over masked positions of
// cross-entropy / t, divided by the number of response tokens in the batch. Attention is
// bidirectional.
//
// The output folder loads with DiffusionLm::Load / `quicksilver generate --model DIR`:
// config.json, model.safetensors, tokenizer.json (a copy), tokenizer_config.json (a ChatML
// chat_template, eos_token). DIR/train_state/ holds what --resume needs (fp32 weights,
// optimizer state, step, the options); a resumed run gives the losses and weights of an
// uninterrupted one (the masks of step s come from a generator seeded with (seed, s) and
// the data order of an epoch from (seed, epoch), so no random state is carried over).
//
// Thread safety: Train uses LibTorch's global thread settings; run one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace qs::model {

struct TrainOptions {
  // Inputs and output. On resume, data and tokenizer_dir may be empty (the recorded corpus
  // path and out_dir's tokenizer.json copy are used).
  std::string data_path;      // JSONL, one {"prompt": TEXT, "response": TEXT} per line
  std::string tokenizer_dir;  // folder with tokenizer.json (or the file itself)
  std::string out_dir;

  // What the run computes. A resumed run keeps the recorded values: a value given here
  // that differs both from the default and from the recording is an error.
  int64_t steps = 1000;
  int64_t batch = 16;  // sequences per step
  double lr = 1e-3;    // peak; linear warm-up, then cosine decay to 10% of it
  int64_t warmup = 100;
  int64_t seed = 0;
  int64_t max_len = 512;  // longer examples (prompt + response + EOS) are dropped
  int64_t hidden = 256;
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t ffn = 704;  // intermediate size of the SwiGLU MLP
  double weight_decay = 0.1;
  double eval_fraction = 0.02;  // held-out lines (eval loss at each save); 0 = none
  // Extra EOS padding per batch: each step pads its batch to the longest example plus a
  // seeded uniform 0..tail_pad tokens (capped at max_len). Length bucketing alone leaves
  // almost no padding, so the model would never see an answer followed by a long run of
  // EOS, which is what a generation canvas longer than the answer asks of it; measured on
  // the copy task of tests/unit/train_test.cc, without it greedy answers go wrong as soon
  // as the canvas is longer than the trained responses.
  int64_t tail_pad = 64;
  // How each sequence's masks are drawn (both weight a masked token's cross-entropy by
  // 1/t and normalise by the response tokens):
  //  "count" (default): n = response tokens, k uniform in 1..n, exactly k of them masked
  //    (a uniform random subset), t = k / n. The discrete form of the same objective
  //    (t is uniform over the masking ratios a sequence can have); each sequence's term
  //    is its mean cross-entropy over masked tokens, so no step is dominated by one
  //    sequence with a tiny t.
  //  "bernoulli": LLaDA's reference sampling, t ~ U(0, 1), p = (1 - eps) t + eps, each
  //    token masked with probability p. With a small batch, short responses drawn with a
  //    tiny t (one masked token weighted up to 1000x) dominate a step's gradient. Measured
  //    on a copy task (docs/TRAINING.md; 4 x 128 model, batch 32, lr 1e-3, 1500 steps):
  //    count copies 4 of a held-out id's 5 characters, bernoulli 2.
  //  "suffix": k as in count, but the last k response positions: the canvas the schema
  //    constraint's left-to-right decoding shows the model (all before the frontier
  //    committed, all after it masked).
  //  "mixed": each row count or suffix with even odds.
  std::string mask_sampling = "count";

  // A new run (not --resume) may start from the fp32 weights of an earlier run's output
  // folder (OUT/train_state/weights.pt, same shape) instead of a random initialization;
  // the optimizer state and the schedule start fresh.
  std::string init_from;

  // How it runs (free to change on resume).
  bool resume = false;
  int64_t save_every = 500;  // checkpoint every N steps (0: only at the end)
  int64_t log_every = 10;
  int64_t stop_at = 0;  // > 0: stop after this step with a checkpoint (resume later)
  std::string save_dtype = "bfloat16";  // model.safetensors: bfloat16 or float32
  // Written to tokenizer_config.json as "quicksilver_agent_prompt" when set: the system
  // message style the agent loop gives this model, "full" or "compact"
  // (runtime/agent/agent_protocol.h). Must match the corpus's prompts.
  std::string agent_prompt;
  int64_t threads = 0;  // LibTorch intra-op threads; 0 = the default
  // Progress and summary lines; default: stderr.
  std::function<void(const std::string&)> log;
};

struct TrainResult {
  int64_t first_step = 0;      // the first step this call ran (1, or after the resume point)
  std::vector<double> losses;  // training loss of each step this call ran
  double last_eval_loss = -1;  // -1 when there is no held-out set
  int64_t train_examples = 0;
  int64_t eval_examples = 0;
  int64_t dropped_examples = 0;  // longer than max_len
  int64_t tokens_per_step_mean = 0;
  double seconds = 0;  // wall time of the training steps of this call
};

// Trains (or resumes) and writes the output folder. Expected failures (a missing or
// malformed corpus line, with its line number; a tokenizer without <|endoftext|> or
// <|mask|>; an unwritable out_dir; bad options) come back as Status values.
StatusOr<TrainResult> Train(const TrainOptions& options);

}  // namespace qs::model
