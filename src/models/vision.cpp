#include "models/vision.h"

#include "util/error.h"

namespace lumen {

void validate(const VisionConfig& c) {
  auto in_range = [](const char* name, int64_t v, int64_t limit) {
    if (v <= 0 || v > limit) fail(name, " = ", v, " is out of range (1..", limit, ")");
  };
  in_range("num_classes", c.num_classes, 1 << 20);
  in_range("image_size", c.image_size, 4096);
  if (!c.labels.empty() && int64_t(c.labels.size()) != c.num_classes)
    fail("labels has ", c.labels.size(), " names but num_classes is ", c.num_classes);
  for (int ch = 0; ch < 3; ++ch)
    if (!(c.std[size_t(ch)] > 0.0f)) fail("std[", ch, "] = ", c.std[size_t(ch)], " is not positive");
  if (!(c.width_mult > 0.0f) || c.width_mult > 16.0f) fail("width_mult = ", c.width_mult, " is out of range (0..16]");
  if (c.architecture != "vit") return;
  in_range("patch_size", c.patch_size, c.image_size);
  in_range("hidden_dim", c.hidden_dim, 1 << 16);
  in_range("num_layers", c.num_layers, 1024);
  in_range("num_heads", c.num_heads, 1024);
  in_range("mlp_dim", c.mlp_dim, 1 << 18);
  if (c.image_size % c.patch_size) fail("image_size ", c.image_size, " is not divisible by patch_size ", c.patch_size);
  if (c.hidden_dim % c.num_heads) fail("hidden_dim ", c.hidden_dim, " is not divisible by num_heads ", c.num_heads);
  if (!(c.layer_norm_eps > 0.0f) || c.layer_norm_eps > 1.0f) fail("layer_norm_eps = ", c.layer_norm_eps, " is out of range");
}

}  // namespace lumen
