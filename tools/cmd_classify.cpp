// `lumen classify`: an image classifier (docs/FORMATS.md, "Image classifiers") applied to image
// files; prints each image's top-K classes with their softmax probabilities, and optionally
// writes the logits of every image as an [images, classes] .npy.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "formats/npy.h"
#include "formats/vision_files.h"
#include "models/image_classification.h"
#include "models/vision.h"
#include "util/error.h"

namespace lumen::cli {
namespace {

struct ClassifyOptions {
  std::string model;
  std::vector<std::string> images;
  int32_t top = 5;
  bool no_resize = false;
  std::string logits_out;
  int32_t threads = 0;
};

void print_top(const std::string& path, const std::vector<ClassScore>& top) {
  std::printf("%s\n", path.c_str());
  for (size_t r = 0; r < top.size(); ++r)
    std::printf("  %2zu  %.6f  %d%s%s\n", r + 1, top[r].probability, top[r].index, top[r].label.empty() ? "" : "  ",
                top[r].label.c_str());
}

void classify(const ClassifyOptions& o) {
  const auto model = load_vision_model(o.model);
  const VisionConfig& c = model->config;
  ThreadPool pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency())));
  VisionContext ctx{pool, {}};
  std::vector<float> all_logits;
  double forward_seconds = 0.0;
  for (const std::string& path : o.images) {
    const FeatureMap input = classifier_input(path, c, o.no_resize);
    const auto start = std::chrono::steady_clock::now();
    const std::vector<float> logits = model->net->logits(input, ctx);
    forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_top(path, top_classes(logits, c, o.top));
    all_logits.insert(all_logits.end(), logits.begin(), logits.end());
  }
  if (!o.logits_out.empty()) write_npy_f32(o.logits_out, {int64_t(o.images.size()), c.num_classes}, all_logits);
  std::fprintf(stderr, "lumen: %s, %zu image(s) at %dx%d, %.1f ms per image (forward pass, %d threads)\n",
               c.architecture.c_str(), o.images.size(), c.image_size, c.image_size,
               1e3 * forward_seconds / double(o.images.size()), pool.size());
}

}  // namespace

void register_classify(CLI::App& app) {
  auto o = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Classify images with a CNN or ViT (torchvision weights)");
  cmd->add_option("-m,--model", o->model, "image classifier folder (config.json + model.safetensors)")->required();
  cmd->add_option("-i,--image", o->images, "image file: PNG, JPEG, PPM, BMP, ... (repeat for several)")->required();
  cmd->add_option("--top", o->top, "classes to print per image")->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--no-resize", o->no_resize, "require images of the model's exact size (no resize or crop)");
  cmd->add_option("--logits-out", o->logits_out, "write the float32 logits as a .npy of shape [images, classes]");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  cmd->callback([o] { classify(*o); });
}

}  // namespace lumen::cli
