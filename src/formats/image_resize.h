#pragma once
// Bringing an image to a model's square input the way torchvision's evaluation transforms do
// on a PIL image: Resize(size) then CenterCrop(size).
#include <cstdint>

#include "formats/image_file.h"

namespace lumen {

// PIL's bilinear resampling (Image.resize with Image.BILINEAR, Pillow's Resample.c) to
// width x height, pixel for pixel: per axis, output pixel i is the triangle-filter average of
// the input around centre (i + 0.5) * scale, the filter widened by the scale when shrinking (so
// every input pixel counts: antialiasing); weights normalised, then rounded to 22-bit fixed
// point; a horizontal pass rounded to 8 bits, then a vertical one.
RgbImage resize_bilinear(const RgbImage& image, int32_t width, int32_t height);

// Resize(size): the shorter side scaled to size, the longer to floor(size * long / short);
// then CenterCrop(size): the centre size x size square, its corner at Python's round() of half
// the excess (halves to even). An image already size x size is returned as it is.
RgbImage resize_and_center_crop(const RgbImage& image, int32_t size);

}  // namespace lumen
