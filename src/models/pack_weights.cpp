#include "models/pack_weights.h"

#include <algorithm>

#include "kernels/packed_layout.h"

namespace lumen {
namespace {

// Groups are packed in slices of about this many bytes, each slice's file pages released as
// soon as it is copied, so packing never holds a second copy of more than one slice.
constexpr size_t kSliceBytes = size_t(4) << 20;

// Packed tensors start on cache lines of the one mapping that holds them all (one mapping, so
// that at most one huge page is partly used).
size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

void pack(Tensor& w, uint8_t* packed, const LoadedModel& model) {
  const MappedFile* file = nullptr;
  for (const auto& f : model.files)
    if (f->contains(w.data)) file = f.get();
  const size_t group_bytes = packed_group_bytes(w);
  const int64_t groups = w.rows() / kPackRows;
  const int64_t slice = std::max<int64_t>(1, int64_t(kSliceBytes / group_bytes));
  for (int64_t g = 0; g < groups; g += slice) {
    const int64_t end = std::min(groups, g + slice);
    pack_groups(w, g, end, packed);
    if (file) file->release(w.row(g * kPackRows), size_t(end - g) * kPackRows * row_bytes(w.type, w.row_length()));
  }
  w.data = packed;
  w.layout = Layout::Interleaved16;
}

}  // namespace

int pack_weights(LoadedModel& model) {
  ModelWeights& m = model.weights;
  std::vector<Tensor*> matrices;
  for (LayerWeights& l : m.layers) {
    for (Tensor* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.router}) matrices.push_back(t);
    for (auto* experts : {&l.expert_gate, &l.expert_up, &l.expert_down})
      for (Tensor& t : *experts) matrices.push_back(&t);
  }
  if (!m.tied_output) matrices.push_back(&m.output);
  std::erase_if(matrices, [](const Tensor* t) { return !t->present() || !can_pack(*t); });
  size_t bytes = 0;
  for (const Tensor* t : matrices) bytes += aligned(packed_bytes(*t));
  if (matrices.empty()) return 0;
  uint8_t* out = model.packed.emplace_back(std::make_unique<HugePageMemory>(bytes))->data();
  for (Tensor* t : matrices) {
    const size_t size = aligned(packed_bytes(*t));
    pack(*t, out, model);
    out += size;
  }
  return int(matrices.size());
}

}  // namespace lumen
