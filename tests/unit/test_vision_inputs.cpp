// Image classifier folders and images, one test per way of being bad: an unknown architecture,
// a config field missing or out of range, a missing or mis-shaped tensor, an unreadable or
// wrong-size image — each a one-line error naming the problem and a non-zero exit, never a
// crash. The folder is a tiny ViT (the family with the fewest tensors); the numbers of every
// family are held to torchvision by tests/oracle/test_vision_torch.py.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_runner.h"
#include "lumen/lumen.h"
#include "formats/image_resize.h"
#include "formats/vision_files.h"
#include "model_file_helpers.h"
#include "model_folder_writer.h"

namespace lumen::test {
namespace {

using nlohmann::json;

// ViT: 8x8 images in 4x4 patches (4 tokens + the class token), width 6, 2 heads, MLP 8, 1 layer.
json vit_config() {
  return {{"architecture", "vit"}, {"num_classes", 3}, {"image_size", 8}, {"patch_size", 4}, {"hidden_dim", 6},
          {"num_layers", 1},      {"num_heads", 2},    {"mlp_dim", 8},    {"labels", {"cat", "dog", "fox"}}};
}

Shapes vit_tensors() {
  Shapes t = {{"conv_proj.weight", {6, 3, 4, 4}}, {"conv_proj.bias", {6}}, {"class_token", {1, 1, 6}},
              {"encoder.pos_embedding", {1, 5, 6}}};
  const std::string p = "encoder.layers.encoder_layer_0.";
  for (const char* norm : {"ln_1", "ln_2"}) {
    t.push_back({p + norm + ".weight", {6}});
    t.push_back({p + norm + ".bias", {6}});
  }
  t.push_back({p + "self_attention.in_proj_weight", {18, 6}});
  t.push_back({p + "self_attention.in_proj_bias", {18}});
  t.push_back({p + "self_attention.out_proj.weight", {6, 6}});
  t.push_back({p + "self_attention.out_proj.bias", {6}});
  t.push_back({p + "mlp.0.weight", {8, 6}});
  t.push_back({p + "mlp.0.bias", {8}});
  t.push_back({p + "mlp.3.weight", {6, 8}});
  t.push_back({p + "mlp.3.bias", {6}});
  t.push_back({"encoder.ln.weight", {6}});
  t.push_back({"encoder.ln.bias", {6}});
  t.push_back({"heads.head.weight", {3, 6}});
  t.push_back({"heads.head.bias", {3}});
  return t;
}

std::string vit_folder(const ScratchDir& dir, const json& config, const Shapes& tensors) {
  const std::string d = dir.path("vit");
  std::filesystem::create_directories(d);
  write_json(d + "/config.json", config);
  write_safetensors(d + "/model.safetensors", tensors);
  return d;
}

std::string load_error(const json& config, const Shapes& tensors) {
  ScratchDir dir;
  return error_of([&] { load_vision_model(vit_folder(dir, config, tensors)); });
}

// A binary PPM of a horizontal grey ramp.
std::string write_ppm(const ScratchDir& dir, const std::string& name, int w, int h) {
  std::string bytes = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  for (int i = 0; i < w * h * 3; ++i) bytes += char(uint8_t((i / 3 % w) * 255 / std::max(1, w - 1)));
  const std::string path = dir.path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(VisionFolder, TinyVitLoadsAndClassifies) {
  ScratchDir dir;
  const auto model = load_vision_model(vit_folder(dir, vit_config(), vit_tensors()));
  ThreadPool pool(2);
  VisionContext ctx{pool, {}};
  FeatureMap image(8, 8, 3);
  for (size_t i = 0; i < image.data.size(); ++i) image.data[i] = float(i % 7) * 0.1f;
  const std::vector<float> logits = model->net->logits(image, ctx);
  ASSERT_EQ(logits.size(), 3u);
  for (float v : logits) EXPECT_TRUE(std::isfinite(v));
}

TEST(VisionFolder, UnknownArchitecture) {
  json c = vit_config();
  c["architecture"] = "alexnet";
  const std::string msg = load_error(c, vit_tensors());
  EXPECT_NE(msg.find("'architecture'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("alexnet"), std::string::npos) << msg;
}

TEST(VisionFolder, ConfigMissingAField) {
  json c = vit_config();
  c.erase("num_classes");
  EXPECT_NE(load_error(c, vit_tensors()).find("'num_classes'"), std::string::npos);
}

TEST(VisionFolder, ConfigFieldsOutOfRange) {
  json c = vit_config();
  c["patch_size"] = 3;  // 8 is not a whole number of patches
  EXPECT_NE(load_error(c, vit_tensors()).find("patch_size"), std::string::npos);
  c = vit_config();
  c["labels"] = {"cat", "dog"};
  EXPECT_NE(load_error(c, vit_tensors()).find("labels"), std::string::npos);
  c = vit_config();
  c["mean"] = {0.5, 0.5};
  EXPECT_NE(load_error(c, vit_tensors()).find("'mean'"), std::string::npos);
  c = vit_config();
  c["std"] = {0.5, 0.0, 0.5};
  EXPECT_NE(load_error(c, vit_tensors()).find("std"), std::string::npos);
}

TEST(VisionFolder, MissingTensorIsNamed) {
  Shapes t = vit_tensors();
  t.pop_back();  // heads.head.bias
  EXPECT_NE(load_error(vit_config(), t).find("'heads.head.bias'"), std::string::npos);
}

TEST(VisionFolder, MisShapedTensorIsNamed) {
  Shapes t = vit_tensors();
  t[0].second = {6, 3, 4, 5};
  const std::string msg = load_error(vit_config(), t);
  EXPECT_NE(msg.find("'conv_proj.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[6, 3, 4, 4]"), std::string::npos) << msg;
}

TEST(VisionFolder, ConfigContradictsTensorShapes) {
  json c = vit_config();
  c["hidden_dim"] = 8;  // the tensors are 6 wide
  EXPECT_NE(load_error(c, vit_tensors()).find("conv_proj.weight"), std::string::npos);
}

TEST(ImageResize, ExactSizeIsKeptAndFlatColourStaysFlat) {
  RgbImage flat{37, 23, std::vector<uint8_t>(37 * 23 * 3, 200)};
  const RgbImage same = resize_and_center_crop(RgbImage{8, 8, std::vector<uint8_t>(8 * 8 * 3, 7)}, 8);
  EXPECT_EQ(same.pixels, std::vector<uint8_t>(8 * 8 * 3, 7));
  for (int32_t size : {8, 16, 64}) {
    const RgbImage out = resize_and_center_crop(flat, size);
    EXPECT_EQ(out.width, size);
    EXPECT_EQ(out.height, size);
    EXPECT_EQ(out.pixels, std::vector<uint8_t>(size_t(size) * size * 3, 200)) << "size " << size;
  }
}

TEST(ClassifyCli, PrintsTopClassesWithLabels) {
  ScratchDir dir;
  const std::string model = vit_folder(dir, vit_config(), vit_tensors());
  const auto r = run_lumen({"classify", "-m", model, "-i", write_ppm(dir, "a.ppm", 8, 8), "-i",
                            write_ppm(dir, "b.ppm", 20, 11), "--top", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("a.ppm\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("b.ppm\n"), std::string::npos) << r.out;
  for (const char* label : {"cat", "dog", "fox"}) EXPECT_NE(r.out.find(label), std::string::npos) << r.out;
  // --top beyond the classes prints every class once per image.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2 * (1 + 3)) << r.out;
}

// The library's Classifier: the same answer as the network's logits, softmax-ordered, labelled.
TEST(ClassifierApi, TopClassesFollowTheLogits) {
  ScratchDir dir;
  Classifier classifier(vit_folder(dir, vit_config(), vit_tensors()), 1);
  EXPECT_EQ(classifier.architecture(), "vit");
  EXPECT_EQ(classifier.num_classes(), 3);
  const std::string image = write_ppm(dir, "b.ppm", 20, 11);
  const std::vector<float> logits = classifier.logits(image);
  const std::vector<ClassScore> top = classifier.classify(image, 10);
  ASSERT_EQ(top.size(), 3u);  // no more than there are classes
  EXPECT_EQ(top[0].index, int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin()));
  float sum = 0;
  for (size_t r = 0; r < top.size(); ++r) {
    sum += top[r].probability;
    if (r > 0) {
      EXPECT_GE(top[r - 1].probability, top[r].probability);
    }
    EXPECT_EQ(top[r].label, vit_config()["labels"][size_t(top[r].index)].get<std::string>());
  }
  EXPECT_NEAR(sum, 1.0f, 1e-6f);
  EXPECT_THROW(classifier.classify(image, 0), Error);
  EXPECT_THROW(classifier.logits(image, true), Error);  // 20x11 is not the model's size
}

void expect_one_line_failure(const CliResult& r, const std::string& text) {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(ClassifyCli, UnreadableImages) {
  ScratchDir dir;
  const std::string model = vit_folder(dir, vit_config(), vit_tensors());
  expect_one_line_failure(run_lumen({"classify", "-m", model, "-i", dir.path("absent.png")}), "absent.png");
  const std::string junk = dir.path("junk.png");
  std::ofstream(junk) << "not an image at all";
  expect_one_line_failure(run_lumen({"classify", "-m", model, "-i", junk}), "junk.png");
  const std::string truncated = dir.path("truncated.ppm");
  std::ofstream(truncated, std::ios::binary) << "P6\n8 8\n255\n" << std::string(10, 'x');
  expect_one_line_failure(run_lumen({"classify", "-m", model, "-i", truncated}), "truncated.ppm");
}

TEST(ClassifyCli, WrongSizeWithoutResize) {
  ScratchDir dir;
  const std::string model = vit_folder(dir, vit_config(), vit_tensors());
  expect_one_line_failure(run_lumen({"classify", "-m", model, "-i", write_ppm(dir, "big.ppm", 9, 8), "--no-resize"}),
                          "9x8");
}

TEST(ClassifyCli, BadModelFolder) {
  ScratchDir dir;
  json c = vit_config();
  c["architecture"] = "lenet";
  expect_one_line_failure(run_lumen({"classify", "-m", vit_folder(dir, c, vit_tensors()), "-i",
                                     write_ppm(dir, "a.ppm", 8, 8)}),
                          "lenet");
}

// An image classifier given to the text commands says what it is and which command runs it.
TEST(ClassifyCli, TextCommandsPointToClassify) {
  ScratchDir dir;
  const std::string model = vit_folder(dir, vit_config(), vit_tensors());
  expect_one_line_failure(run_lumen({"run", "-m", model, "-n", "2"}), "lumen classify");
  expect_one_line_failure(run_lumen({"inspect", model}), "lumen classify");
}

}  // namespace
}  // namespace lumen::test
