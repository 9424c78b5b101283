// quicksilver bench: benchmark programs that print figures with the machine they ran on.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "model/backend.h"
#include "model/bench.h"
#include "runtime/agent/diffusion_agent.h"
#include "runtime/cli/command.h"
#include "runtime/flags.h"
#include "workflows/workflow_spec.h"

namespace qs::cli {

void PrintMachine() {
  std::printf("machine: %u hardware threads; %s\n", std::thread::hardware_concurrency(),
              model::DescribeBackend(model::GetBackendInfo()).c_str());
}

namespace {

// "none,prefix,dual" -> the modes, in order.
StatusOr<std::vector<model::KvCache>> ParseKvCacheList(const std::string& text) {
  std::vector<model::KvCache> out;
  for (size_t start = 0; start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    QS_ASSIGN_OR_RETURN(model::KvCache cache,
                        model::ParseKvCache(text.substr(start, comma - start)));
    out.push_back(cache);
    start = comma + 1;
  }
  return out;
}

int RunBenchLoad(const std::vector<std::string>& args) {
  std::string model_dir, dtype = "float32";
  FlagSet flags("bench load",
                "Load a checkpoint and print the time, the weight bytes and the peak resident\n"
                "memory of the process.");
  flags.String("model", &model_dir, "Checkpoint folder", true);
  flags.String("dtype", &dtype, "Compute dtype: float32 or bfloat16");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  PrintMachine();
  StatusOr<model::LoadBenchResult> r = model::BenchLoad(model_dir, dtype);
  if (!r.ok()) return Failure("bench load", r.status().ToString());
  std::printf("loaded %s: %.1fM parameters, checkpoint %.1f MB, in memory %.1f MB (%s)\n",
              model_dir.c_str(), r->parameters / 1e6, r->checkpoint_bytes / 1e6,
              r->weight_bytes_in_memory / 1e6, dtype.c_str());
  std::printf(
      "load time %.2f s; peak RSS %.1f MB = %.3f x weights in memory\n", r->seconds,
      r->peak_rss_bytes / 1e6,
      static_cast<double>(r->peak_rss_bytes) / static_cast<double>(r->weight_bytes_in_memory));
  return kExitOk;
}

int RunBenchDenoise(const std::vector<std::string>& args) {
  model::DenoiseBenchOptions o;
  std::string model_dir;
  int64_t hidden = 512, layers = 8, heads = 8, vocab = 24000, repeats = 3;
  FlagSet flags("bench denoise",
                "Time one forward pass and a fixed-schedule generation (early stop off) and print\n"
                "ms per denoising step and tokens per second. --model random builds a random\n"
                "LLaDA-layout model (default shape: about 50M parameters).");
  flags.String("model", &model_dir, "Checkpoint folder, or 'random'", true);
  flags.Int("prompt-length", &o.prompt_length, "Prompt tokens");
  flags.Int("gen-length", &o.gen_length, "Generated tokens");
  flags.Int("steps", &o.steps, "Denoising steps");
  flags.Int("block-length", &o.block_length, "Block length (llada)");
  flags.String("sampler", &o.sampler, "llada or dream (default: the model's own)");
  flags.String("dtype", &o.dtype, "Compute dtype");
  flags.Int("repeats", &repeats, "Timed repeats (the median is reported)");
  std::string caches = "none";
  flags.String("kv-cache", &caches,
               "KV cache modes to time side by side, comma-separated: none, prefix, dual");
  flags.Bool("compare-full-lm-head", &o.compare_full_lm_head,
             "Also time each cache mode with the LM head over every position (a step needs "
             "only its candidates' rows)");
  flags.Int("hidden", &hidden, "random: hidden size");
  flags.Int("layers", &layers, "random: layers");
  flags.Int("heads", &heads, "random: attention heads");
  flags.Int("vocab", &vocab, "random: vocabulary size");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  o.repeats = static_cast<int>(repeats);
  StatusOr<std::vector<model::KvCache>> kv = ParseKvCacheList(caches);
  if (!kv.ok()) return UsageError("bench denoise", kv.status().message());
  o.kv_caches = *kv;
  if (model_dir == "random") {
    model::ModelConfig& c = o.random_config;
    c.arch = model::Architecture::kLlada;
    c.model_type = "llada";
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.num_heads = heads;
    c.num_kv_heads = heads;
    c.head_dim = heads > 0 ? hidden / heads : 0;
    c.intermediate_size = (hidden * 8 / 3 + 63) / 64 * 64;
    c.vocab_size = vocab;
    c.rope_theta = 500000;
    c.rms_norm_eps = 1e-5;
    c.mask_token_id = vocab - 1;
    c.eos_token_id = vocab - 2;
    if (hidden <= 0 || heads <= 0 || hidden % heads != 0 || layers <= 0 || vocab < 16) {
      return UsageError("bench denoise", "random model shape: hidden must be a multiple of heads");
    }
  } else {
    o.model_dir = model_dir;
  }
  PrintMachine();
  StatusOr<model::DenoiseBenchResult> r = model::BenchDenoise(o);
  if (!r.ok()) return Failure("bench denoise", r.status().ToString());
  std::printf("model: %s (%s, %.1fM parameters, %s)\n", model_dir.c_str(),
              model::ArchitectureName(r->config.arch), r->config.num_parameters() / 1e6,
              o.dtype.c_str());
  std::printf("schedule: %s, prompt %lld + gen %lld = %lld tokens, %lld steps, block %lld\n",
              r->sampler.c_str(), static_cast<long long>(o.prompt_length),
              static_cast<long long>(o.gen_length),
              static_cast<long long>(o.prompt_length + o.gen_length),
              static_cast<long long>(r->steps),
              static_cast<long long>(r->sampler == "dream" ? o.gen_length : o.block_length));
  std::printf("forward %.2f ms (median of %d)\n", r->forward_ms, o.repeats);
  for (const model::DenoiseBenchResult::CacheRun& c : r->cache_runs) {
    std::printf(
        "kv cache %-6s | lm head %-6s | denoising step %7.2f ms (%.2fx) | %7.1f tokens/s | "
        "answer agreement with the first %.3f\n",
        model::KvCacheName(c.cache), c.full_lm_head ? "all" : "needed", c.step_ms,
        r->cache_runs[0].step_ms / c.step_ms, c.tokens_per_second, c.agreement);
  }
  return kExitOk;
}

}  // namespace

// One agent round (the first turn of examples/order_support.yaml: the prompt with three
// tools, a tool call out) timed end to end: tokenizing, denoising under the constraint,
// parsing. The same questions every run; the median over repeats is the figure.
int RunBenchAgent(const std::vector<std::string>& args) {
  const std::string cmd = "bench agent";
  std::string model_path = "builtin", tokenizer_dir,
              workflow = std::string(QS_SOURCE_DIR) + "/examples/order_support.yaml",
              node_id = "support";
  int64_t repeats = 20;
  std::string draft = "workflow";
  FlagSet flags(cmd,
                "Time one agent round: the first turn of a workflow's agent node (default\n"
                "examples/order_support.yaml: three tools in the prompt, a tool call out),\n"
                "with the workflow's model settings, for a fixed set of questions.");
  flags.String("draft", &draft,
               "workflow (its model.draft), on, off, or both (each round timed both ways, "
               "interleaved, and the ratio printed)");
  flags.String("model", &model_path, "Checkpoint folder, 'builtin' or 'random'");
  flags.String("tokenizer", &tokenizer_dir, "Tokenizer folder for --model random");
  flags.String("workflow", &workflow, "Workflow file");
  flags.String("node", &node_id, "Its agent node");
  flags.Int("repeats", &repeats, "Rounds timed (questions cycle)");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (draft != "workflow" && draft != "on" && draft != "off" && draft != "both") {
    return UsageError(cmd, "--draft must be workflow, on, off or both, got '" + draft + "'");
  }
  StatusOr<workflows::WorkflowSpec> spec = workflows::LoadWorkflowFile(workflow);
  if (!spec.ok()) return Failure(cmd, spec.status().ToString());
  const workflows::NodeSpec* node = spec->FindNode(node_id);
  if (node == nullptr || node->type != workflows::NodeType::kAgent) {
    return UsageError(cmd, "'" + node_id + "' is not an agent node of " + workflow);
  }
  const auto& agent_node = std::get<workflows::AgentNode>(node->config);
  StatusOr<std::unique_ptr<agent::DiffusionAgentModel>> model =
      LoadCliAgentModel(model_path, tokenizer_dir, 0);
  if (!model.ok()) return Failure(cmd, model.status().ToString());
  std::vector<bool> modes;  // the draft setting of each timed variant
  if (draft == "workflow") modes = {spec->model.draft};
  if (draft == "on" || draft == "both") modes.push_back(true);
  if (draft == "off" || draft == "both") modes.push_back(false);
  std::vector<workflows::ModelSpec> settings(modes.size(), spec->model);
  for (size_t m = 0; m < modes.size(); ++m) settings[m].draft = modes[m];
  workflows::AgentRequest request;
  request.node_id = node_id;
  request.answer_schema = agent_node.answer_schema;
  // Tools as a run offers them: bound parameters hidden (the bound values themselves only
  // change the calls, which the bench does not run).
  for (const std::string& name : agent_node.tools) {
    tools::ToolSpec offered = spec->FindTool(name)->spec();
    if (agent_node.bind.contains(name)) {
      offered.parameters = workflows::WithoutParameters(offered.parameters, agent_node.bind[name]);
    }
    request.tools.push_back(std::move(offered));
  }
  const std::vector<std::string> questions = {"Where is my order A1001?", "Has B2001 shipped yet?",
                                              "Track TRK-9012 please.", "What have I ordered?",
                                              "Can you check order C3002 for me?"};
  PrintMachine();
  struct Figures {
    std::vector<double> ms;
    int64_t prompt_tokens = 0, output_tokens = 0, calls = 0, forced = 0, complete_drafts = 0;
  };
  std::vector<Figures> figures(modes.size());
  for (int64_t i = 0; i < repeats + 1; ++i) {
    const std::string& q = questions[static_cast<size_t>(i) % questions.size()];
    request.messages = {{"system", agent_node.system, {}, "", ""},
                        {"user", "Customer account: alice\nQuestion: " + q + "\n", {}, "", ""}};
    for (size_t m = 0; m < modes.size(); ++m) {
      request.model = &settings[m];
      const auto start = std::chrono::steady_clock::now();
      StatusOr<workflows::AgentResponse> r = (*model)->Generate(request);
      const double elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (!r.ok()) return Failure(cmd, r.status().ToString());
      if (i == 0) continue;  // warm-up: first-visit masks, allocator
      Figures& f = figures[m];
      f.ms.push_back(elapsed);
      f.prompt_tokens += r->stats.input_tokens;
      f.output_tokens += r->stats.output_tokens;
      f.calls += r->stats.model_calls;
      f.forced += r->stats.forced_tokens;
      f.complete_drafts += (*model)->last_turn().draft_complete ? 1 : 0;
    }
  }
  std::printf("workflow %s, node %s, model %s (gen_length %d, block %d, threshold %s)\n",
              workflow.c_str(), node_id.c_str(), model_path.c_str(), spec->model.gen_length,
              spec->model.block_length,
              spec->model.threshold ? std::to_string(*spec->model.threshold).c_str() : "none");
  std::vector<double> p50(modes.size());
  for (size_t m = 0; m < modes.size(); ++m) {
    Figures& f = figures[m];
    std::sort(f.ms.begin(), f.ms.end());
    const double n = static_cast<double>(f.ms.size());
    p50[m] = f.ms[f.ms.size() / 2];
    std::printf(
        "draft %s: per round: prompt %.0f tokens, turn %.1f tokens (%.1f forced), %.1f "
        "model calls, %lld of %zu drafts complete\n",
        modes[m] ? "on" : "off", f.prompt_tokens / n, f.output_tokens / n, f.forced / n,
        f.calls / n, static_cast<long long>(f.complete_drafts), f.ms.size());
    std::printf("draft %s: round latency: p50 %.1f ms, p90 %.1f ms, min %.1f ms over %zu rounds\n",
                modes[m] ? "on" : "off", p50[m], f.ms[static_cast<size_t>(0.9 * (n - 1))],
                f.ms.front(), f.ms.size());
  }
  if (modes.size() == 2) std::printf("p50 ratio draft on / off: %.2fx\n", p50[0] / p50[1]);
  return kExitOk;
}

// Issue 7's GPU benchmark: a random-weight model of LLaDA-8B's shape made on the device.
int RunBenchGpu(const std::vector<std::string>& args) {
  const char* cmd = "bench gpu";
  model::GpuBenchOptions o;
  model::ModelConfig& c = o.config;
  int64_t hidden = c.hidden_size, layers = c.num_layers, heads = c.num_heads,
          ffn = c.intermediate_size, vocab = c.vocab_size, repeats = o.repeats;
  std::string caches = "none,prefix,dual";
  FlagSet flags(cmd,
                "Build a random-weight model (LLaDA-8B's shape unless overridden) on --device\n"
                "and print: forward ms at 320 and 1088 tokens (batch 1); LLaDA's fixed schedule\n"
                "(64-token prompt, gen 256, block 32) at 256 and 64 steps with each KV cache:\n"
                "ms per step and tokens/s; the most device memory seen in use. Run\n"
                "../shared/gpu/reference_bench.py in the same call and compare.");
  flags.String("device", &o.device, "cuda, cuda:N, or cpu (with a small shape, as a smoke test)");
  flags.String("dtype", &o.dtype, "Compute dtype");
  flags.Int("repeats", &repeats, "Timed repeats after one warm-up (median reported)");
  flags.String("kv-cache", &caches, "KV cache modes, comma-separated: none, prefix, dual");
  flags.Int("hidden", &hidden, "Hidden size");
  flags.Int("layers", &layers, "Layers");
  flags.Int("heads", &heads, "Attention heads (= key/value heads)");
  flags.Int("ffn", &ffn, "MLP intermediate size");
  flags.Int("vocab", &vocab, "Vocabulary size");
  if (int exit_code = ParseFlags(flags, args); exit_code >= 0) return exit_code;
  if (hidden <= 0 || heads <= 0 || hidden % heads != 0 || layers <= 0 || ffn <= 0 || vocab < 2048) {
    return UsageError(cmd, "shape: hidden a multiple of heads, vocab >= 2048, all positive");
  }
  c.hidden_size = hidden;
  c.num_layers = layers;
  c.num_heads = c.num_kv_heads = heads;
  c.head_dim = hidden / heads;
  c.intermediate_size = ffn;
  c.vocab_size = vocab;
  c.mask_token_id = std::min<int64_t>(c.mask_token_id, vocab - 1);
  c.eos_token_id = std::min<int64_t>(c.eos_token_id, vocab - 2);
  o.repeats = static_cast<int>(repeats);
  StatusOr<std::vector<model::KvCache>> kv = ParseKvCacheList(caches);
  if (!kv.ok()) return UsageError(cmd, kv.status().message());
  o.kv_caches = *kv;
  PrintMachine();
  std::printf(
      "model: random LLaDA layout, hidden %lld, %lld layers, %lld heads, ffn %lld, vocab "
      "%lld (%.2fB parameters), %s on %s\n",
      static_cast<long long>(hidden), static_cast<long long>(layers), static_cast<long long>(heads),
      static_cast<long long>(ffn), static_cast<long long>(vocab), c.num_parameters() / 1e9,
      o.dtype.c_str(), o.device.c_str());
  std::fflush(stdout);
  StatusOr<model::GpuBenchResult> r = model::BenchGpu(o);
  if (!r.ok()) return Failure(cmd, r.status().ToString());
  std::printf("forward batch 1: 320 tokens %.2f ms | 1088 tokens %.2f ms\n", r->forward_ms_320,
              r->forward_ms_1088);
  for (const model::GpuBenchResult::Schedule& s : r->schedules) {
    std::printf(
        "schedule gen 256, block 32, %3lld steps, kv cache %-6s | %.3f s | step %.2f ms | "
        "%.1f tokens/s\n",
        static_cast<long long>(s.steps), model::KvCacheName(s.cache), s.seconds, s.step_ms,
        s.tokens_per_second);
  }
  if (r->peak_device_bytes >= 0) {
    std::printf("device memory in use, most seen: %.2f GiB\n",
                r->peak_device_bytes / (1024.0 * 1024.0 * 1024.0));
  } else {
    std::printf("device memory: unknown (a build without the CUDA kernels)\n");
  }
  return kExitOk;
}

int RunBench(const std::vector<std::string>& args) {
  const char* help =
      "usage: quicksilver bench SUBCOMMAND [flags]\n\nsubcommands:\n"
      "  load      load time and peak memory of a checkpoint\n"
      "  denoise   ms per denoising step and tokens/s of a fixed schedule\n"
      "  agent     latency of one agent round (constrained tool call)\n"
      "  gpu       LLaDA-8B-shaped model on a GPU: forward, steps with each KV cache, memory\n"
      "  constraint  ms per step with and without a JSON-Schema constraint\n";
  if (args.empty()) {
    return UsageError("bench", "missing subcommand (load, denoise, agent, gpu, constraint)");
  }
  if (args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", help);
    return kExitOk;
  }
  if (args[0] == "load") return RunBenchLoad({args.begin() + 1, args.end()});
  if (args[0] == "denoise") return RunBenchDenoise({args.begin() + 1, args.end()});
  if (args[0] == "agent") return RunBenchAgent({args.begin() + 1, args.end()});
  if (args[0] == "gpu") return RunBenchGpu({args.begin() + 1, args.end()});
  if (args[0] == "constraint") return RunBenchConstraint({args.begin() + 1, args.end()});
  return UsageError("bench", "unknown subcommand '" + args[0] + "'");
}

}  // namespace qs::cli
