// lumen::Classifier (include/lumen/lumen.h).
#include <algorithm>
#include <thread>

#include "formats/vision_files.h"
#include "lumen/lumen.h"
#include "models/image_classification.h"

namespace lumen {

struct Classifier::State {
  std::unique_ptr<VisionModel> model;
  ThreadPool pool;
  VisionContext ctx;

  State(const std::string& dir, int32_t threads)
      : model(load_vision_model(dir)),
        pool(threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()))),
        ctx{pool, {}} {}
};

Classifier::Classifier(const std::string& model_dir, int32_t threads)
    : state_(std::make_unique<State>(model_dir, threads)) {}
Classifier::~Classifier() = default;

std::vector<float> Classifier::logits(const std::string& image_path, bool exact_size) {
  return state_->model->net->logits(classifier_input(image_path, state_->model->config, exact_size), state_->ctx);
}

std::vector<ClassScore> Classifier::classify(const std::string& image_path, int32_t top_k) {
  return top_classes(logits(image_path), state_->model->config, top_k);
}

std::string Classifier::architecture() const { return state_->model->config.architecture; }
int32_t Classifier::num_classes() const { return state_->model->config.num_classes; }
int32_t Classifier::image_size() const { return state_->model->config.image_size; }
int32_t Classifier::threads() const { return state_->pool.size(); }

}  // namespace lumen
