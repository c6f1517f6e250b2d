// `lumen classify`: an image classifier (docs/FORMATS.md, "Image classifiers") applied to image
// files; prints each image's top-K classes with their softmax probabilities, and optionally
// writes the logits of every image as an [images, classes] .npy.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "formats/image_file.h"
#include "formats/image_resize.h"
#include "formats/npy.h"
#include "formats/vision_files.h"
#include "kernels/ops.h"
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

// The network's input: RGB scaled to [0, 1], then (v - mean) / std per channel, channels last.
FeatureMap normalise(const RgbImage& image, const VisionConfig& c) {
  FeatureMap x(image.height, image.width, 3);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const size_t ch = i % 3;
    x.data[i] = (float(image.pixels[i]) / 255.0f - c.mean[ch]) / c.std[ch];
  }
  return x;
}

RgbImage model_input(const std::string& path, const VisionConfig& c, bool no_resize) {
  const RgbImage image = read_image(path);
  if (no_resize && (image.width != c.image_size || image.height != c.image_size))
    fail(path, ": the image is ", image.width, "x", image.height, " but the model takes ", c.image_size, "x",
         c.image_size, " (--no-resize)");
  return resize_and_center_crop(image, c.image_size);
}

void print_top(const std::string& path, const std::vector<float>& logits, const VisionConfig& c, int32_t top) {
  std::vector<float> probs = logits;
  softmax(probs.data(), int64_t(probs.size()));
  std::vector<int32_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min(order.size(), size_t(top));
  std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(),
                    [&](int32_t a, int32_t b) { return probs[size_t(a)] > probs[size_t(b)] || (probs[size_t(a)] == probs[size_t(b)] && a < b); });
  std::printf("%s\n", path.c_str());
  for (size_t r = 0; r < k; ++r) {
    const int32_t cls = order[r];
    std::printf("  %2zu  %.6f  %d%s%s\n", r + 1, probs[size_t(cls)], cls, c.labels.empty() ? "" : "  ",
                c.labels.empty() ? "" : c.labels[size_t(cls)].c_str());
  }
}

void classify(const ClassifyOptions& o) {
  const auto model = load_vision_model(o.model);
  const VisionConfig& c = model->config;
  ThreadPool pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency())));
  VisionContext ctx{pool, {}};
  std::vector<float> all_logits;
  double forward_seconds = 0.0;
  for (const std::string& path : o.images) {
    const FeatureMap input = normalise(model_input(path, c, o.no_resize), c);
    const auto start = std::chrono::steady_clock::now();
    const std::vector<float> logits = model->net->logits(input, ctx);
    forward_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    print_top(path, logits, c, o.top);
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
