#include "server/metrics_text.h"

#include <sstream>

namespace lumen::server {
namespace {

void metric(std::ostringstream& os, const char* name, const char* type, const char* help, double value) {
  os << "# HELP lumen_" << name << ' ' << help << "\n# TYPE lumen_" << name << ' ' << type << "\nlumen_" << name
     << ' ' << value << '\n';
}

}  // namespace

std::string metrics_text(const EngineMetrics& m) {
  std::ostringstream os;
  os.precision(17);  // counters stay exact far beyond any realistic uptime
  metric(os, "requests_total", "counter", "Requests accepted by the engine.", double(m.requests_total));
  metric(os, "requests_finished_total", "counter", "Requests that ended.", double(m.requests_finished));
  metric(os, "requests_rejected_total", "counter", "Requests refused because the queue was full.",
         double(m.requests_rejected));
  metric(os, "requests_cancelled_queued_total", "counter",
         "Requests cancelled while waiting in the queue (their client went away).",
         double(m.requests_cancelled_queued));
  metric(os, "prompt_tokens_total", "counter", "Prompt tokens received.", double(m.prompt_tokens_total));
  metric(os, "prompt_tokens_cached_total", "counter", "Prompt tokens served from the prefix cache.",
         double(m.prompt_tokens_cached));
  metric(os, "generated_tokens_total", "counter", "Tokens generated.", double(m.generated_tokens_total));
  metric(os, "requests_running", "gauge", "Requests in the running batch.", m.running);
  metric(os, "requests_queued", "gauge", "Requests waiting to start.", m.queued);
  metric(os, "kv_blocks_total", "gauge", "KV cache blocks.", m.kv_blocks_total);
  metric(os, "kv_blocks_used", "gauge", "KV cache blocks held by requests.", m.kv_blocks_used);
  metric(os, "kv_blocks_free", "gauge", "KV cache blocks not held by any request.",
         m.kv_blocks_total - m.kv_blocks_used);
  metric(os, "kv_blocks_cached", "gauge", "Free KV cache blocks still holding a reusable prefix.",
         m.kv_blocks_cached);
  metric(os, "preemptions_total", "counter", "Requests preempted for lack of KV blocks.", double(m.preemptions));
  metric(os, "generated_tokens_per_second", "gauge", "Generation throughput over the last few seconds.",
         m.generated_tokens_per_second);
  return os.str();
}

}  // namespace lumen::server
