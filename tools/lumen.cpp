// The `lumen` command: subcommands for running, inspecting and converting models.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"lumen — a transformer inference engine"};
  app.require_subcommand(1);
  lumen::cli::register_run(app);
  lumen::cli::register_tokenize(app);
  lumen::cli::register_inspect(app);
  lumen::cli::register_convert(app);
  lumen::cli::register_serve(app);
  lumen::cli::register_quantize(app);
  lumen::cli::register_perplexity(app);
  lumen::cli::register_bench(app);
  lumen::cli::register_embed(app);
  lumen::cli::register_translate(app);
  lumen::cli::register_classify(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lumen::Error& e) {
    std::fprintf(stderr, "lumen: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lumen: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
