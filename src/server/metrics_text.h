#pragma once
// The engine's counters in the Prometheus text exposition format, for GET /metrics.
#include <string>

#include "runtime/engine.h"

namespace lumen::server {

std::string metrics_text(const EngineMetrics& m);

}  // namespace lumen::server
