#include "models/image_classification.h"

#include <algorithm>
#include <numeric>

#include "formats/image_file.h"
#include "formats/image_resize.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {

FeatureMap classifier_input(const std::string& path, const VisionConfig& c, bool exact_size) {
  const RgbImage image = read_image(path);
  if (exact_size && (image.width != c.image_size || image.height != c.image_size))
    fail(path, ": the image is ", image.width, "x", image.height, " but the model takes ", c.image_size, "x",
         c.image_size, " (--no-resize)");
  const RgbImage input = resize_and_center_crop(image, c.image_size);
  FeatureMap x(input.height, input.width, 3);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const size_t ch = i % 3;
    x.data[i] = (float(input.pixels[i]) / 255.0f - c.mean[ch]) / c.std[ch];
  }
  return x;
}

std::vector<ClassScore> top_classes(std::span<const float> logits, const VisionConfig& c, int32_t top_k) {
  if (top_k < 1) fail("the number of top classes, ", top_k, ", must be at least 1");
  std::vector<float> probs(logits.begin(), logits.end());
  softmax(probs.data(), int64_t(probs.size()));
  std::vector<int32_t> order(probs.size());
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min(order.size(), size_t(top_k));
  std::partial_sort(order.begin(), order.begin() + ptrdiff_t(k), order.end(), [&](int32_t a, int32_t b) {
    return probs[size_t(a)] > probs[size_t(b)] || (probs[size_t(a)] == probs[size_t(b)] && a < b);
  });
  std::vector<ClassScore> top;
  for (size_t r = 0; r < k; ++r) {
    const int32_t cls = order[r];
    top.push_back({cls, probs[size_t(cls)], c.labels.empty() ? std::string() : c.labels[size_t(cls)]});
  }
  return top;
}

}  // namespace lumen
