#include "formats/npy.h"

#include <cstdio>
#include <memory>

#include "util/error.h"

namespace lumen {

void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, std::span<const float> data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (n != int64_t(data.size())) fail("npy shape holds ", n, " values but ", data.size(), " were given");
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();  // (n,) for one dimension, (a, b) otherwise
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  const uint16_t len = uint16_t(header.size());

  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail("cannot write ", path);
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(len & 0xff), uint8_t(len >> 8)};
  const bool ok = std::fwrite(preamble, 1, 10, f.get()) == 10 &&
                  std::fwrite(header.data(), 1, header.size(), f.get()) == header.size() &&
                  std::fwrite(data.data(), sizeof(float), data.size(), f.get()) == data.size();
  if (!ok) fail("write to ", path, " failed");
}

}  // namespace lumen
