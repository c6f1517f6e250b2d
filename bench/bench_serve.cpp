// Serving throughput through the real HTTP path: the server library (the handlers `lumen serve`
// runs) on a loopback port in this process, and N client threads that each send one streamed
// /v1/completions request at the same moment. Reported per concurrency: aggregate generated
// tokens/s from the first request sent to the last token received, tokens/s per stream, mean
// time to first token, the ratio to one stream, and the ceiling measured on this machine:
//   n streams ≤ min(n × read bandwidth / weight bytes per token,   (one weight read per step)
//                   peak throughput / (2 × matrix parameters))     (compute, all rows together)
// and, to tell the serving path's costs from the kernels', "forward-only": tokens/s of the
// batched decode step alone (n single-token sequences in one Decoder::forward, best of 5; no
// HTTP, scheduling or prefill).
// cpu% is the process's CPU time (engine, HTTP and client threads) over wall time x engine
// threads: below 100 when the machine is shared or the engine waits.
// Every request has a fixed length (end-of-text and BOS biased away, so each stream generates
// exactly --tokens tokens) and its own short prompt, so that the prefix cache, which shares only
// whole 16-token blocks, shares nothing. Greedy unless --temperature is given (then OpenAI's
// other defaults: no top-k, top-p 1).
//
// Usage: bench_serve [--model GGUF] [--threads 2] [--streams 1,4,16] [--tokens 64] [--repeat 3]
//                    [--temperature 0]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "formats/loaded_model.h"
#include "kernels/cpu_features.h"
#include "models/decoder.h"
#include "models/model_costs.h"
#include "runtime/engine.h"
#include "runtime/roofline.h"
#include "server/http_server.h"

using namespace lumen;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string model = LUMEN_DEFAULT_MODEL;
  int threads = 2;
  std::vector<int> streams = {1, 4, 16};
  int tokens = 64;
  int repeat = 3;
  double temperature = 0;
};

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--model GGUF] [--threads N] [--streams 1,4,16] [--tokens N] [--repeat N] "
               "[--temperature T]\n",
               argv0);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string v = argv[++i];
    if (a == "--model") {
      o.model = v;
    } else if (a == "--threads" && std::atoi(v.c_str()) > 0) {
      o.threads = std::atoi(v.c_str());
    } else if (a == "--tokens" && std::atoi(v.c_str()) > 0) {
      o.tokens = std::atoi(v.c_str());
    } else if (a == "--repeat" && std::atoi(v.c_str()) > 0) {
      o.repeat = std::atoi(v.c_str());
    } else if (a == "--temperature" && std::atof(v.c_str()) >= 0) {
      o.temperature = std::atof(v.c_str());
    } else if (a == "--streams") {
      o.streams.clear();
      for (size_t at = 0; at < v.size();) {
        const size_t comma = std::min(v.find(',', at), v.size());
        const int n = std::atoi(v.substr(at, comma - at).c_str());
        if (n < 1) usage(argv[0]);
        o.streams.push_back(n);
        at = comma + 1;
      }
      if (o.streams.empty()) usage(argv[0]);
    } else {
      usage(argv[0]);
    }
  }
  return o;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one + " " + five;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// A distinct short prompt for stream `i` of run `run`; they differ within their first tokens,
// so no two share a cached block.
std::string prompt_for(int run, int i) {
  static const char* const kTopics[] = {"a red kite", "the old boat", "a lost key", "two cats", "a rainy day",
                                        "the tall tree", "a green frog", "the small bakery"};
  return "Story " + std::to_string(run) + "." + std::to_string(i) + " about " + kTopics[i % 8] + ":";
}

struct StreamResult {
  int tokens = 0;  // completion tokens the server reported (usage chunk)
  Clock::time_point sent, first_text, done;
  std::string error;
};

// One streamed completion, read event by event as it arrives.
StreamResult stream_one(int port, const json& body) {
  StreamResult r;
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(600);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string pending;
  bool got_text = false;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    pending.append(data, n);
    for (size_t end; (end = pending.find("\n\n")) != std::string::npos; pending.erase(0, end + 2)) {
      const std::string event = pending.substr(0, end);
      if (event.rfind("data: ", 0) != 0) continue;
      if (event == "data: [DONE]") {
        r.done = Clock::now();
        continue;
      }
      const json chunk = json::parse(event.substr(6));
      if (!got_text && !chunk["choices"].empty() && !chunk["choices"][0]["text"].get<std::string>().empty()) {
        r.first_text = Clock::now();
        got_text = true;
      }
      if (chunk.contains("usage") && chunk["usage"].is_object()) r.tokens = chunk["usage"]["completion_tokens"];
    }
    return true;
  };
  r.sent = Clock::now();
  const httplib::Result res = client.send(req);
  if (!res) r.error = "request failed: " + httplib::to_string(res.error());
  else if (res->status != 200) r.error = "HTTP " + std::to_string(res->status);
  else if (r.done == Clock::time_point{}) r.error = "stream ended without [DONE]";
  if (!got_text) r.first_text = r.done;
  return r;
}

// Tokens/s of one decode step of n single-token sequences at position 32 (best of 5), for each n.
std::vector<double> forward_only(const LoadedModel& m, const std::vector<int>& streams, int threads) {
  const int max_n = *std::max_element(streams.begin(), streams.end());
  const int32_t bs = 16, blocks_per_sequence = 3, pos = 32;
  ThreadPool pool(threads);
  Decoder decoder(m, std::min(m.config.context_length, bs * blocks_per_sequence), max_n, pool);
  KvStore kv(m.config.n_layers, max_n * blocks_per_sequence, bs, m.config.n_kv_heads, m.config.head_dim());
  std::vector<int32_t> tables(size_t(max_n) * blocks_per_sequence), tokens(max_n);
  for (size_t b = 0; b < tables.size(); ++b) tables[b] = int32_t(b);
  for (int s = 0; s < max_n; ++s) tokens[s] = (100 + s) % m.config.vocab_size;
  std::vector<float> logits(size_t(max_n) * m.config.vocab_size);
  std::vector<double> out;
  for (int n : streams) {
    std::vector<SequenceStep> batch;
    for (int s = 0; s < n; ++s) {
      const std::span<const int32_t> table(&tables[size_t(s) * blocks_per_sequence], blocks_per_sequence);
      batch.push_back({std::span(&tokens[s], 1), pos, table, &logits[size_t(s) * m.config.vocab_size], false, pos});
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const Clock::time_point t0 = Clock::now();
      decoder.forward(batch, kv);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
    }
    out.push_back(n / best);
  }
  return out;
}

struct RunResult {
  double seconds = 0, tokens_per_s = 0, per_stream_tokens_per_s = 0, ttft_ms = 0, cpu_share = 0;
  int tokens = 0;
};

RunResult run_streams(int port, int n, int run, const Options& o, const json& bias) {
  std::vector<StreamResult> results(n);
  std::vector<std::thread> clients;
  std::latch ready(n + 1);
  for (int i = 0; i < n; ++i) {
    json body = {{"prompt", prompt_for(run, i)}, {"max_tokens", o.tokens}, {"temperature", o.temperature},
                 {"stream", true}, {"stream_options", {{"include_usage", true}}}, {"logit_bias", bias}};
    clients.emplace_back([&, i, body = std::move(body)] {
      ready.arrive_and_wait();
      results[i] = stream_one(port, body);
    });
  }
  const double cpu0 = cpu_seconds();
  ready.arrive_and_wait();
  const Clock::time_point t0 = Clock::now();
  for (auto& t : clients) t.join();

  RunResult out;
  Clock::time_point last = t0;
  for (const StreamResult& s : results) {
    if (!s.error.empty()) {
      std::fprintf(stderr, "bench_serve: %s\n", s.error.c_str());
      std::exit(1);
    }
    if (s.tokens != o.tokens)
      std::fprintf(stderr, "bench_serve: warning: a stream generated %d of %d tokens\n", s.tokens, o.tokens);
    out.tokens += s.tokens;
    last = std::max(last, s.done);
    out.per_stream_tokens_per_s += s.tokens / std::chrono::duration<double>(s.done - s.sent).count() / n;
    out.ttft_ms += 1e3 * std::chrono::duration<double>(s.first_text - s.sent).count() / n;
  }
  out.seconds = std::chrono::duration<double>(last - t0).count();
  out.tokens_per_s = out.tokens / out.seconds;
  out.cpu_share = (cpu_seconds() - cpu0) / (out.seconds * o.threads);
  return out;
}

void bench(const Options& o) {
  const int max_streams = *std::max_element(o.streams.begin(), o.streams.end());
  const std::string load_before = load_average();

  const auto model = Model::load(o.model);
  const LoadedModel& m = model->loaded();
  const ModelConfig& c = m.config;
  const ModelCosts costs = model_costs(m);
  const DType wtype = m.weights.layers[0].wq.type;
  const bool int8 = wtype != DType::F32 && wtype != DType::F16 && wtype != DType::BF16;

  // The ceilings, measured before the engine's threads exist so nothing competes with the probes.
  double bandwidth, peak;
  {
    ThreadPool pool(o.threads);
    bandwidth = measure_read_bandwidth(pool);
    peak = int8 ? measure_peak_int8_gops(pool) : measure_peak_f32_gflops(pool);
  }
  const std::vector<double> forward = forward_only(m, o.streams, o.threads);
  const double one_stream_ceiling = bandwidth * 1e9 / double(costs.weight_bytes_per_token);
  const double compute_ceiling = peak * 1e9 / double(costs.matmul_flops_per_token);

  // Room for the longest prompt of any run and the generated tokens, in whole blocks.
  const int total_runs = 1 + o.repeat * int(o.streams.size());
  size_t longest = 0;
  for (int run = 0; run < total_runs; ++run)
    for (int i = 0; i < max_streams; ++i) longest = std::max(longest, model->tokenize(prompt_for(run, i)).size());
  EngineOptions eo;
  eo.max_sequences = max_streams;
  eo.threads = o.threads;
  eo.context_length = std::min(c.context_length, (int(longest) + o.tokens + 15) / 16 * 16);
  Engine engine(m, eo);
  server::ServerOptions so;
  so.port = 0;
  so.http_threads = max_streams + 16;  // as `lumen serve` sizes it: one per stream, and spare
  server::HttpServer http(model, engine, so);
  const int port = http.bind();
  std::thread server([&] { http.run(); });

  // A model may pick end-of-text at any step (random weights do, greedily); fixed-length streams
  // make runs comparable.
  const json bias = {{std::to_string(m.vocab.eos_id), -100}, {std::to_string(m.vocab.bos_id), -100}};
  // Warm-up: pages the weights in and settles the pool; not timed.
  run_streams(port, 1, 0, Options{o.model, o.threads, {1}, 8, 1}, bias);

  std::printf("machine  %s, %u hardware threads, %d engine threads, kernel ISA %s; load average %s (before)\n",
              cpu_model().c_str(), std::thread::hardware_concurrency(), o.threads,
              std::string(isa_name(kernel_isa())).c_str(), load_before.c_str());
  std::printf("model    %s: %s %s, dim %d, hidden %d, %d layers, %d/%d heads, vocab %d; %.1f M parameters, "
              "%.1f MB read per token\n",
              o.model.c_str(), c.architecture.c_str(), std::string(dtype_name(wtype)).c_str(), c.dim, c.hidden_dim,
              c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, costs.parameters / 1e6,
              costs.weight_bytes_per_token / 1e6);
  std::printf("ceiling  read bandwidth %.1f GB/s -> %.1f tok/s per weight pass; %s peak %.0f GOP/s -> %.1f tok/s\n",
              bandwidth, one_stream_ceiling, int8 ? "int8" : "f32", peak, compute_ceiling);
  std::printf("serving  --parallel %d, %d generated tokens per stream, temperature %g, median of %d runs "
              "(aggregate: median, then min-max)\n\n",
              max_streams, o.tokens, o.temperature, o.repeat);
  std::printf("| streams | aggregate tok/s | per-stream tok/s | mean TTFT ms | x 1 stream | forward-only tok/s "
              "| ceiling tok/s | bound by | %% of ceiling | cpu %% |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");

  double single = 0;
  int run = 1;
  for (size_t k = 0; k < o.streams.size(); ++k) {
    const int n = o.streams[k];
    std::vector<RunResult> runs;
    for (int r = 0; r < o.repeat; ++r) runs.push_back(run_streams(port, n, run++, o, bias));
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.tokens_per_s < b.tokens_per_s; });
    const RunResult& med = runs[runs.size() / 2];
    if (n == 1) single = med.tokens_per_s;
    const bool memory_bound = n * one_stream_ceiling < compute_ceiling;
    const double ceiling = memory_bound ? n * one_stream_ceiling : compute_ceiling;
    char ratio[16] = "-";
    if (single > 0) std::snprintf(ratio, sizeof ratio, "%.2f", med.tokens_per_s / single);
    std::printf("| %d | %.1f (%.1f–%.1f) | %.1f | %.0f | %s | %.1f | %.1f | %s | %.0f | %.0f |\n", n,
                med.tokens_per_s, runs.front().tokens_per_s, runs.back().tokens_per_s, med.per_stream_tokens_per_s,
                med.ttft_ms, ratio, forward[k], ceiling, memory_bound ? "bandwidth" : "compute",
                100 * med.tokens_per_s / ceiling, 100 * med.cpu_share);
    std::fflush(stdout);
  }
  std::printf("\nload average %s (after)\n", load_average().c_str());

  http.stop();
  server.join();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve: %s\n", e.what());
    return 1;
  }
}
