#include "formats/vision_files.h"

#include <filesystem>

#include "formats/config_json.h"
#include "formats/safetensors.h"
#include "util/error.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

using Factory = std::unique_ptr<ImageClassifier> (*)(const VisionConfig&, const TorchWeights&);

struct Family {
  const char* architecture;
  Factory make;
};
constexpr Family kFamilies[] = {
    {"resnet18", make_resnet},  {"resnet34", make_resnet}, {"resnet50", make_resnet},
    {"resnet101", make_resnet}, {"resnet152", make_resnet}, {"mobilenet_v2", make_mobilenet_v2},
    {"googlenet", make_googlenet}, {"vit", make_vit},
};

Factory family_of(const ConfigJson& cfg, const std::string& architecture) {
  std::string known;
  for (const Family& f : kFamilies) {
    if (architecture == f.architecture) return f.make;
    known += std::string(known.empty() ? "" : ", ") + f.architecture;
  }
  cfg.bad("architecture", "= \"" + architecture + "\" is not a known image classifier (known: " + known + ")");
}

std::array<float, 3> rgb(const ConfigJson& cfg, const char* key, std::array<float, 3> fallback) {
  const std::optional<std::vector<float>> v = cfg.opt_floats(key);
  if (!v) return fallback;
  if (v->size() != 3) cfg.bad(key, "has " + std::to_string(v->size()) + " values, not 3 (one per RGB channel)");
  return {(*v)[0], (*v)[1], (*v)[2]};
}

VisionConfig read_config(const ConfigJson& cfg) {
  VisionConfig c;
  c.architecture = cfg.get_string("architecture");
  c.num_classes = cfg.get_int("num_classes");
  c.image_size = cfg.get_int("image_size");
  c.mean = rgb(cfg, "mean", c.mean);
  c.std = rgb(cfg, "std", c.std);
  c.labels = cfg.opt_strings("labels").value_or(std::vector<std::string>{});
  if (c.architecture == "mobilenet_v2") c.width_mult = cfg.opt_float("width_mult").value_or(1.0f);
  if (c.architecture == "googlenet") c.transform_input = cfg.opt_bool("transform_input").value_or(false);
  if (c.architecture == "vit") {
    c.patch_size = cfg.get_int("patch_size");
    c.hidden_dim = cfg.get_int("hidden_dim");
    c.num_layers = cfg.get_int("num_layers");
    c.num_heads = cfg.get_int("num_heads");
    c.mlp_dim = cfg.get_int("mlp_dim");
    c.layer_norm_eps = cfg.opt_float("layer_norm_eps").value_or(1e-6f);
  }
  cfg.checked([&] { validate(c); });
  return c;
}

}  // namespace

std::unique_ptr<VisionModel> load_vision_model(const std::string& dir) {
  const ConfigJson cfg((fs::path(dir) / "config.json").string(), "an image classifier folder");
  auto m = std::make_unique<VisionModel>();
  const Factory make = family_of(cfg, cfg.get_string("architecture"));
  m->config = read_config(cfg);
  const SafetensorsSet set(dir);
  try {
    m->net = make(m->config, TorchWeights([&](const std::string& name) { return set.find(name); }));
  } catch (const Error& e) {
    fail(dir, ": ", e.what());
  }
  m->files = set.files();
  return m;
}

}  // namespace lumen
