#pragma once
// `lumen serve`'s HTTP front end: routes (OpenAI's /v1 API, llama.cpp's /tokenize and
// /detokenize, /health, /metrics, the chat page at /), API-key checks, body-size limits, and
// OpenAI-style JSON errors for every bad request.
#include <cstddef>
#include <memory>
#include <string>

#include "lumen/lumen.h"
#include "runtime/engine.h"

namespace lumen::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (bind() returns it)
  std::string api_key;                // empty: no authentication
  size_t max_body_bytes = 1 << 20;    // larger request bodies get 413
  std::string model_name = "lumen";   // what /v1/models lists and responses name
  int http_threads = 64;              // connections served at once (each stream holds one)
};

class HttpServer {
 public:
  HttpServer(std::shared_ptr<const Model> model, Engine& engine, ServerOptions options);
  ~HttpServer();

  // Binds the listening socket; returns the port. Throws lumen::Error when it cannot.
  int bind();
  // Serves until stop() (from any thread, also before run() has begun: run() then returns at once).
  void run();
  void stop();

  // Why the model's own chat template is not used (empty when it is, or when it has none).
  const std::string& chat_template_warning() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumen::server
