// `lumen serve`: the OpenAI-compatible HTTP server. The address goes to stderr once the socket
// listens; SIGINT or SIGTERM stops it, letting running responses finish.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "model_options.h"
#include "runtime/engine.h"
#include "server/http_server.h"

namespace lumen::cli {
namespace {

struct ServeOptions {
  ModelOptions model;
  server::ServerOptions http;
  EngineOptions engine;
};

std::string model_name(const ModelOptions& m) {
  return std::filesystem::path(m.model.empty() ? default_model_path() : m.model).stem().string();
}

void serve(ServeOptions& o) {
  // Block the stop signals before any thread starts (threads inherit the mask), so that only
  // the waiting thread below receives them, synchronously.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the server

  auto model = o.model.load();
  Engine engine(model->loaded(), o.engine);
  o.http.model_name = model_name(o.model);
  // Every running or queued stream holds a connection; a few more keep /health and /metrics
  // answering under full load.
  o.http.http_threads = o.engine.max_sequences + o.engine.max_queued + 16;
  server::HttpServer http(model, engine, o.http);
  if (!http.chat_template_warning().empty()) std::fprintf(stderr, "lumen: warning: %s\n", http.chat_template_warning().c_str());
  const int port = http.bind();

  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    http.stop();
  });
  std::fprintf(stderr, "lumen: listening on http://%s:%d (context %d, %d parallel)\n", o.http.host.c_str(), port,
               engine.context_length(), o.engine.max_sequences);
  http.run();
  // run() also returns when the socket fails: wake the waiting thread the way a signal would.
  pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  std::fprintf(stderr, "lumen: stopped\n");
}

}  // namespace

void register_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "serve the model over an OpenAI-compatible HTTP API and a chat page");
  o->model.add_to(*cmd);
  cmd->add_option("--host", o->http.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->http.port, "port (0: any free port)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", o->engine.max_sequences, "requests decoded at once")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--queue", o->engine.max_queued, "waiting requests beyond which new ones get HTTP 503")
      ->capture_default_str()->check(CLI::Range(0, 4096));
  cmd->add_option("-c,--ctx-size", o->engine.context_length, "context per request in tokens (0: the model's)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("-t,--threads", o->engine.threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  cmd->add_option("--api-key", o->http.api_key, "require Authorization: Bearer KEY on API routes");
  cmd->add_option("--max-body", o->http.max_body_bytes, "largest request body in bytes (larger: HTTP 413)")
      ->capture_default_str()->check(CLI::Range(size_t(1024), size_t(1) << 30));
  cmd->callback([o] { serve(*o); });
}

}  // namespace lumen::cli
