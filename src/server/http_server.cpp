#include "server/http_server.h"

#include <atomic>
#include <chrono>
#include <iterator>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>

#include "formats/loaded_model.h"
#include "server/generation.h"
#include "server/metrics_text.h"
#include "server/openai_protocol.h"
#include "server/prompt_builder.h"
#include "server/sse.h"
#include "server/web_page.h"
#include "util/error.h"

namespace lumen::server {

using json = nlohmann::json;

namespace {

// How long a response waits for text before checking that the client is still there.
constexpr std::chrono::milliseconds kStreamPoll{200};

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  res.set_content(to_wire(body), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) { send_json(res, e.body(), e.status); }

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<const Model> model;
  Engine& engine;
  ServerOptions options;
  const Tokenizer& tokenizer;  // the model's own: decodes streamed pieces one at a time
  PromptBuilder prompts;
  httplib::Server http;
  std::atomic<uint64_t> next_id{0};
  std::mutex lifecycle;  // orders run() and stop() (see there)
  bool stop_requested = false, run_entered = false;
  std::atomic<bool> run_returned{false};
  const uint64_t id_prefix = std::random_device{}();  // ids stay unique across restarts

  Impl(std::shared_ptr<const Model> m, Engine& e, ServerOptions o)
      : model(std::move(m)),
        engine(e),
        options(std::move(o)),
        tokenizer(model->tokenizer()),
        prompts(model, engine.context_length()) {
    http.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(size_t(n)); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_tcp_nodelay(true);  // each streamed token leaves at once instead of waiting on Nagle
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                  : httplib::Server::HandlerResponse::Handled;
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const ApiError& e) {
        send_error(res, e);
      } catch (const Error& e) {  // the engine refusing a request it can never run
        send_error(res, ApiError(400, e.what()));
      } catch (const std::exception& e) {
        send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
      }
    });
    // httplib's own refusals (no route, oversize body, unparsable request) get a JSON body too.
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404) send_error(res, ApiError(404, "no route for " + req.method + " " + req.path, "", "not_found"));
      else if (res.status == 413) send_error(res, ApiError(413, "the request body is too large", "", "payload_too_large"));
      else send_error(res, ApiError(res.status, "bad request (HTTP " + std::to_string(res.status) + ")"));
    });
    routes();
  }

  // /health and the page stay open so load balancers and browsers can reach them; the page
  // sends the key it is given with its API calls.
  bool authorized(const httplib::Request& req, httplib::Response& res) const {
    if (options.api_key.empty() || req.path == "/" || req.path == "/health") return true;
    if (req.get_header_value("Authorization") == "Bearer " + options.api_key) return true;
    send_error(res, ApiError(401, "a valid API key is required (Authorization: Bearer KEY)", "", "invalid_api_key"));
    return false;
  }

  void routes() {
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(kIndexHtml.data(), kIndexHtml.size(), "text/html; charset=utf-8");
    });
    http.Get("/health", [](const httplib::Request&, httplib::Response& res) { send_json(res, {{"status", "ok"}}); });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(engine.metrics()), "text/plain; version=0.0.4");
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"object", "list"},
                      {"data", {{{"id", options.model_name}, {"object", "model"}, {"created", 0}, {"owned_by", "lumen"},
                                 {"context_length", engine.context_length()}}}}});
    });
    http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) { tokenize(req, res); });
    http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) { detokenize(req, res); });
    http.Post("/v1/completions",
              [this](const httplib::Request& req, httplib::Response& res) { complete(req, res, false); });
    http.Post("/v1/chat/completions",
              [this](const httplib::Request& req, httplib::Response& res) { complete(req, res, true); });
  }

  // llama.cpp's shapes: {"content": text, "add_special": bool} -> {"tokens": [...]}.
  void tokenize(const httplib::Request& req, httplib::Response& res) const {
    const json body = parse_json_object(req.body);
    if (!body.contains("content") || !body["content"].is_string())
      throw ApiError(400, "'content' must be a string", "content", "invalid_value");
    const json add_special = body.value("add_special", json(false));
    if (!add_special.is_boolean()) throw ApiError(400, "'add_special' must be a boolean", "add_special", "invalid_value");
    send_json(res, {{"tokens", model->tokenize(body["content"].get<std::string>(), add_special.get<bool>())}});
  }

  // {"tokens": [...]} -> {"content": text}.
  void detokenize(const httplib::Request& req, httplib::Response& res) const {
    const json body = parse_json_object(req.body);
    const int32_t vocab_size = model->info().vocab_size;
    const auto bad = [] { throw ApiError(400, "'tokens' must be an array of token ids", "tokens", "invalid_value"); };
    if (!body.contains("tokens") || !body["tokens"].is_array()) bad();
    std::vector<int32_t> tokens;
    for (const json& t : body["tokens"]) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= vocab_size) bad();
      tokens.push_back(t.get<int32_t>());
    }
    send_json(res, {{"content", model->detokenize(tokens)}});
  }

  void complete(const httplib::Request& req, httplib::Response& res, bool chat) {
    const CompletionRequest request = parse_completion_request(req.body, chat);
    RequestParams params = prompts.build(request);
    // best_of ranks its candidates by their tokens' log-probabilities, which the engine then reports.
    if (request.best_of > request.n) params.logprobs = std::max(params.logprobs, 0);
    auto choices = std::make_shared<Choices>(request.best_of, tokenizer, params.prompt.back(), request.stop,
                                             request.logprobs >= 0);
    if (request.echo)
      for (size_t i = 0; i < choices->size(); ++i) (*choices)[i].echo(params.prompt);
    // Each candidate draws with its own seed (seed, seed + 1, ...): reproducible when one is given.
    std::vector<RequestParams> group(choices->size(), params);
    for (size_t i = 0; i < group.size(); ++i) group[i].sampling.seed += i;
    const ResponseHeader header{(chat ? "chatcmpl-" : "cmpl-") + std::to_string(id_prefix) + "-" +
                                    std::to_string(next_id++),
                                unix_seconds(), options.model_name};
    const auto ids = engine.submit_group(std::move(group), choices->callbacks());
    if (!ids) throw ApiError(503, "the server is busy (its request queue is full); retry later", "", "queue_full");
    // Called however the response ends. When the client has gone, this is what cancels the
    // requests: one still queued leaves the queue at once, never prefilled; a running one ends
    // before the engine's next step, which frees its KV blocks. After a normal end it finds nothing.
    httplib::ContentProviderResourceReleaser cancel = [&engine = engine, ids = *ids, choices](bool) {
      choices->cancel();
      for (const RequestId id : ids) engine.cancel(id);
    };
    if (request.stream) stream(res, request, header, choices, std::move(cancel));
    else answer(res, request, header, choices, std::move(cancel));
  }

  // A non-streamed answer is one JSON object, complete only at the end, yet the server must notice
  // a client that hangs up before then: otherwise its request runs to max_tokens, holding KV
  // blocks and a batch slot. cpp-httplib 0.11 gives a handler no sign of its connection (no
  // socket handle; the per-connection hook is a private member), so the answer goes out as a
  // chunked response that, while the result is pending, writes one space each time new text
  // arrives and every kStreamPoll otherwise. JSON allows whitespace before a value (RFC 8259
  // §2: JSON.parse, Python's json, the openai clients accept it). Once the client has gone,
  // the first space draws a reset and the next write fails, which ends the response and, as for
  // a stream, cancels the request: the client is missed for about as many tokens as a
  // streaming one. The price: status 200 is sent before the result (after submit() a request
  // can only end with a finish_reason, never an HTTP error), the body has no Content-Length,
  // and it may start with up to one space per generated token.
  // "; charset=utf-8" keeps cpp-httplib from compressing the body (it compresses exactly
  // "application/json"): a compressor would hold the spaces back instead of sending them.
  static void answer(httplib::Response& res, const CompletionRequest& request, const ResponseHeader& header,
                     std::shared_ptr<Choices> choices, httplib::ContentProviderResourceReleaser cancel) {
    res.set_chunked_content_provider(
        "application/json; charset=utf-8",
        [request, header, choices, results = std::vector<Choice>(choices->size())](size_t,
                                                                                    httplib::DataSink& sink) mutable {
          const std::vector<Generation::Update> updates = choices->take(kStreamPoll);
          bool finished = true;
          for (size_t i = 0; i < updates.size(); ++i) {
            results[i].text += updates[i].text;
            std::move(updates[i].logprobs.begin(), updates[i].logprobs.end(), std::back_inserter(results[i].logprobs));
            results[i].finish_reason = updates[i].finish_reason;
            finished = finished && updates[i].finished;
          }
          if (!finished) return sink.write(" ", 1);
          if (request.best_of > request.n) {
            std::vector<Choice> best;
            for (const size_t i : best_candidates(updates, size_t(request.n))) best.push_back(std::move(results[i]));
            results = std::move(best);
          }
          const std::string body = to_wire(completion_response(request, header, results, combined_usage(updates)));
          if (!sink.write(body.data(), body.size())) return false;
          sink.done();
          return true;
        },
        std::move(cancel));
  }

  // Each choice's text goes out as it arrives, in chunks carrying its index; the stream ends once
  // every choice has sent its last chunk.
  static void stream(httplib::Response& res, const CompletionRequest& request, const ResponseHeader& header,
                     std::shared_ptr<Choices> choices, httplib::ContentProviderResourceReleaser cancel) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [request, header, choices, started = false, ended = std::vector<bool>(choices->size())](
            size_t, httplib::DataSink& sink) mutable {
          const auto send = [&](const std::string& event) { return sink.write(event.data(), event.size()); };
          if (!started && request.chat)
            for (size_t i = 0; i < choices->size(); ++i)
              if (!send(sse_event(stream_chunk(request, header, int32_t(i), "", std::nullopt, true)))) return false;
          started = true;
          const std::vector<Generation::Update> updates = choices->take(kStreamPoll);
          if (!sink.is_writable()) return false;
          for (size_t i = 0; i < updates.size(); ++i) {
            const Generation::Update& u = updates[i];
            if (ended[i] || (!u.finished && u.text.empty() && u.logprobs.empty())) continue;
            ended[i] = u.finished;
            const auto finish = u.finished ? std::optional(u.finish_reason) : std::nullopt;
            if (!send(sse_event(stream_chunk(request, header, int32_t(i), u.text, finish, false, u.logprobs)))) return false;
          }
          if (std::find(ended.begin(), ended.end(), false) != ended.end()) return true;
          if (request.include_usage && !send(sse_event(usage_chunk(request, header, combined_usage(updates))))) return false;
          if (!send(sse_done())) return false;
          sink.done();
          return true;
        },
        std::move(cancel));
  }
};

HttpServer::HttpServer(std::shared_ptr<const Model> model, Engine& engine, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), engine, std::move(options))) {}
HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->http.bind_to_any_port(o.host);
    if (port < 0) fail("cannot listen on ", o.host);
    return port;
  }
  if (!impl_->http.bind_to_port(o.host, o.port)) fail("cannot listen on ", o.host, ":", o.port);
  return o.port;
}

// httplib's stop() does nothing until listen_after_bind() has started its accept loop, so a stop
// that comes first (a signal just after the address was printed) would be lost and run() would
// serve forever. stop() is therefore remembered, and waits for the loop to start (or for run()
// to give up) before ending it.
void HttpServer::run() {
  {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->stop_requested) return;
    impl_->run_entered = true;
  }
  impl_->http.listen_after_bind();
  impl_->run_returned = true;
}

void HttpServer::stop() {
  {
    std::lock_guard lock(impl_->lifecycle);
    impl_->stop_requested = true;
    if (!impl_->run_entered) return;
  }
  while (!impl_->http.is_running() && !impl_->run_returned) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->http.stop();
}

const std::string& HttpServer::chat_template_warning() const { return impl_->prompts.warning(); }

}  // namespace lumen::server
