// `lumen bench`: llama-bench's measurements — prompt processing (ppN) and text generation
// (tgN) tokens/s over repetitions — beside the roofline each test is bound by, measured on the
// same machine: memory bandwidth / bytes read per token for tg, peak throughput / operations
// per token for pp.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "formats/loaded_model.h"
#include "kernels/cpu_features.h"
#include "model_options.h"
#include "models/decoder.h"
#include "models/model_costs.h"
#include "runtime/roofline.h"
#include "util/error.h"

namespace lumen::cli {
namespace {

struct BenchOptions {
  ModelOptions model;
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int32_t threads = int32_t(std::max(1u, std::thread::hardware_concurrency()));
  int32_t repetitions = 5;
  std::string output = "md";
};

struct TestResult {
  std::string name;  // pp512 / tg128
  int32_t n_prompt = 0, n_gen = 0;
  double avg_ts = 0, stddev_ts = 0;
  double roofline_ts = 0;
  std::string roofline_basis;  // what bounds it
};

std::vector<int32_t> random_tokens(int32_t n, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(rng() % uint32_t(vocab));
  return t;
}

// Tokens/s of each repetition: a fresh context every time, as llama-bench does.
std::pair<double, double> time_runs(int reps, const std::function<double()>& one_run) {
  std::vector<double> ts;
  one_run();  // warm-up: page in the weights, settle the pool
  for (int r = 0; r < reps; ++r) ts.push_back(one_run());
  double mean = 0, var = 0;
  for (double t : ts) mean += t / ts.size();
  for (double t : ts) var += (t - mean) * (t - mean) / std::max<size_t>(1, ts.size() - 1);
  return {mean, std::sqrt(var)};
}

double seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool is_quantized(DType t) { return t != DType::F32 && t != DType::F16 && t != DType::BF16; }

void bench(const BenchOptions& o) {
  if (o.repetitions < 1) fail("-r must be at least 1");
  if (o.output != "md" && o.output != "jsonl") fail("unknown output format '", o.output, "' (md, jsonl)");
  const auto handle = o.model.load();
  const LoadedModel& m = handle->loaded();
  const ModelConfig& c = m.config;
  const int32_t context = std::max(o.n_prompt, o.n_gen) + 1;
  if (context > c.context_length) fail("-p/-n need ", context, " positions; the model has ", c.context_length);
  ThreadPool pool(o.threads);
  SequenceRunner runner(m, context, pool);
  const ModelCosts costs = model_costs(m);
  std::vector<float> logits(c.vocab_size);

  std::vector<TestResult> results;
  if (o.n_prompt > 0) {
    const auto tokens = random_tokens(o.n_prompt, c.vocab_size, 1);
    const auto [avg, sd] = time_runs(o.repetitions, [&] {
      const auto t0 = std::chrono::steady_clock::now();
      runner.forward(tokens, 0, logits.data());
      return o.n_prompt / seconds(t0);
    });
    const bool int8 = is_quantized(m.weights.layers[0].wq.type);
    const double peak = int8 ? measure_peak_int8_gops(pool) : measure_peak_f32_gflops(pool);
    results.push_back({"pp" + std::to_string(o.n_prompt), o.n_prompt, 0, avg, sd,
                       peak * 1e9 / double(costs.matmul_flops_per_token),
                       (int8 ? "int8 peak " : "f32 peak ") + std::to_string(int(peak)) + " GOP/s"});
  }
  if (o.n_gen > 0) {
    const auto tokens = random_tokens(o.n_gen, c.vocab_size, 2);
    const auto [avg, sd] = time_runs(o.repetitions, [&] {
      const auto t0 = std::chrono::steady_clock::now();
      for (int32_t pos = 0; pos < o.n_gen; ++pos) runner.decode(tokens[pos], pos, logits.data());
      return o.n_gen / seconds(t0);
    });
    const double bw = measure_read_bandwidth(pool);
    results.push_back({"tg" + std::to_string(o.n_gen), 0, o.n_gen, avg, sd, bw * 1e9 / double(costs.weight_bytes_per_token),
                       "bandwidth " + std::to_string(int(bw)) + " GB/s"});
  }

  const std::string name = std::filesystem::path(o.model.model.empty() ? default_model_path() : o.model.model).filename();
  const std::string type = std::string(dtype_name(m.weights.layers[0].wq.type));
  if (o.output == "jsonl") {
    for (const TestResult& r : results) {
      nlohmann::json j = {{"model_filename", name},     {"model_type", c.architecture + " " + type},
                          {"model_size", costs.weight_bytes}, {"model_n_params", costs.parameters},
                          {"cpu_info", cpu_model()},    {"kernel_isa", std::string(isa_name(kernel_isa()))},
                          {"n_threads", o.threads},     {"n_prompt", r.n_prompt},
                          {"n_gen", r.n_gen},           {"repetitions", o.repetitions},
                          {"avg_ts", r.avg_ts},         {"stddev_ts", r.stddev_ts},
                          {"roofline_ts", r.roofline_ts}, {"roofline_pct", 100.0 * r.avg_ts / r.roofline_ts},
                          {"roofline_basis", r.roofline_basis}};
      std::printf("%s\n", j.dump().c_str());
    }
    return;
  }
  std::printf("| model | size | params | isa | threads | test | t/s | roofline t/s | %% of roofline |\n");
  std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const TestResult& r : results)
    std::printf("| %s %s | %.2f MiB | %.2f M | %s | %d | %s | %.2f ± %.2f | %.2f (%s) | %.1f%% |\n",
                c.architecture.c_str(), type.c_str(), costs.weight_bytes / 1048576.0, costs.parameters / 1e6,
                std::string(isa_name(kernel_isa())).c_str(), o.threads, r.name.c_str(), r.avg_ts, r.stddev_ts,
                r.roofline_ts, r.roofline_basis.c_str(), 100.0 * r.avg_ts / r.roofline_ts);
  std::printf("\n%s\n", cpu_model().c_str());
}

}  // namespace

void register_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "llama-bench-style prompt and generation speed beside the roofline");
  o->model.add_to(*cmd);
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (0: skip pp)")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens (0: skip tg)")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", o->threads, "threads")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("-r,--repetitions", o->repetitions, "repetitions of each test")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "md or jsonl")->capture_default_str();
  cmd->callback([o] { bench(*o); });
}

}  // namespace lumen::cli
