// quicksilver train: masked-diffusion training (LLaDA's SFT objective) of a small LLaDA-layout
// model on a prompt/response JSONL corpus; the output folder loads with --model.
#include <cstdio>

#include "model/train.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"

namespace qs::cli {

int RunTrain(const std::vector<std::string>& args) {
  const std::string cmd = "train";
  model::TrainOptions o;  // the flags' defaults are the options' defaults
  FlagSet flags(
      cmd,
      "Train a LLaDA-layout diffusion model on a JSONL corpus of {\"prompt\": TEXT,\n"
      "\"response\": TEXT} lines (prompt already in the chat format, ending with the\n"
      "assistant turn's opening) with LLaDA's masked-diffusion SFT loss. Writes --out:\n"
      "config.json, model.safetensors, tokenizer.json, tokenizer_config.json (ChatML), and\n"
      "train_state/ for --resume. Progress goes to stderr.");
  flags.String("data", &o.data_path, "Corpus JSONL file (required unless --resume)");
  flags.String("tokenizer", &o.tokenizer_dir,
               "Folder with tokenizer.json, with <|endoftext|> and <|mask|> tokens (required "
               "unless --resume)");
  flags.String("out", &o.out_dir, "Output folder (checkpoint + train_state/)", true);
  flags.Int("steps", &o.steps, "Optimizer steps in the whole run");
  flags.Int("batch", &o.batch, "Sequences per step");
  flags.Double("lr", &o.lr, "Peak learning rate (linear warm-up, cosine decay to 10%)");
  flags.Int("warmup", &o.warmup, "Warm-up steps");
  flags.Int("seed", &o.seed, "Seed of the data order, masks and initialisation");
  flags.Int("max-len", &o.max_len, "Longest example in tokens (longer ones are dropped)");
  flags.Int("hidden", &o.hidden, "Hidden size");
  flags.Int("layers", &o.layers, "Transformer layers");
  flags.Int("heads", &o.heads, "Attention heads");
  flags.Int("ffn", &o.ffn, "MLP intermediate size");
  flags.Double("weight-decay", &o.weight_decay, "AdamW weight decay on matrices (0 on norms)");
  flags.Double("eval-fraction", &o.eval_fraction,
               "Held-out share of the corpus; eval loss at each save (0 = none)");
  flags.String("mask-sampling", &o.mask_sampling,
               "count: exactly k of n response tokens masked, k uniform in 1..n (steady with "
               "small batches); bernoulli: LLaDA's t ~ U(0,1), each token masked with "
               "probability t; suffix: the last k response tokens (the left-to-right "
               "canvas of constrained decoding); mixed: count or suffix per row");
  flags.Int("tail-pad", &o.tail_pad,
            "Extra EOS padding per batch, uniform in 0..N, so answers learn to end inside "
            "longer canvases");
  flags.Int("save-every", &o.save_every, "Checkpoint every N steps (0 = only at the end)");
  flags.Int("log-every", &o.log_every, "Progress line every N steps (0 = none)");
  flags.Int("stop-at", &o.stop_at,
            "Stop after this step with a checkpoint, to continue later with --resume (0 = off)");
  flags.String("save-dtype", &o.save_dtype, "model.safetensors dtype: bfloat16 or float32");
  flags.String("agent-prompt", &o.agent_prompt,
               "Record the agent system-message style the corpus was written with (full or "
               "compact) in tokenizer_config.json, for the agent loop");
  flags.String("init-from", &o.init_from,
               "Start a new run from an earlier run's weights (its --out folder)");
  flags.Int("threads", &o.threads,
            "LibTorch intra-op threads (0 = the default: QS_NUM_THREADS, else 1; matrix "
            "products use OpenBLAS's own threads)");
  flags.Bool("resume", &o.resume,
             "Continue the run in --out from its last checkpoint (same options, same losses)");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (!flags.positional().empty()) {
    return UsageError(cmd, "unexpected argument '" + flags.positional()[0] + "'");
  }
  if (!o.resume && o.data_path.empty()) return UsageError(cmd, "missing --data FILE.jsonl");
  if (!o.resume && o.tokenizer_dir.empty()) return UsageError(cmd, "missing --tokenizer DIR");
  if (o.steps <= 0 || o.batch <= 0 || o.hidden <= 0 || o.layers <= 0 || o.heads <= 0 ||
      o.ffn <= 0 || o.max_len < 2 || o.warmup < 0 || !(o.lr > 0)) {
    return UsageError(cmd,
                      "--steps, --batch, --hidden, --layers, --heads, --ffn and --lr must be "
                      "positive, --max-len at least 2, --warmup not negative");
  }
  if (o.save_dtype != "bfloat16" && o.save_dtype != "float32") {
    return UsageError(cmd, "--save-dtype must be bfloat16 or float32");
  }

  StatusOr<model::TrainResult> r = model::Train(o);
  if (!r.ok()) return Failure(cmd, r.status().ToString());
  if (!r->losses.empty()) {
    std::fprintf(
        stderr, "train: %zu steps in %.1f s (%.3f s/step), final loss %.4f%s; wrote %s\n",
        r->losses.size(), r->seconds, r->seconds / static_cast<double>(r->losses.size()),
        r->losses.back(),
        r->last_eval_loss >= 0 ? (", eval loss " + std::to_string(r->last_eval_loss)).c_str() : "",
        o.out_dir.c_str());
  }
  return kExitOk;
}

}  // namespace qs::cli
