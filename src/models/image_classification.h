#pragma once
// What turns an image file into a classifier's answer, around the network itself: the input as
// torchvision's eval transforms make it, and the most probable classes of the logits. Shared by
// `lumen classify` and the library's lumen::Classifier.
#include <span>
#include <string>
#include <vector>

#include "lumen/lumen.h"
#include "models/vision.h"

namespace lumen {

// The image file read (stb), resized and centre-cropped to c.image_size (or, with exact_size,
// refused unless already that size), scaled to [0, 1] and normalised per channel by c's mean/std.
FeatureMap classifier_input(const std::string& path, const VisionConfig& c, bool exact_size);

// The top_k classes of `logits` by softmax probability, most probable first, lower index first on
// ties; labels from c where it has them.
std::vector<ClassScore> top_classes(std::span<const float> logits, const VisionConfig& c, int32_t top_k);

}  // namespace lumen
