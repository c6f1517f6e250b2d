#include "models/pack_weights.h"

#include <algorithm>

#include "kernels/packed_layout.h"

namespace lumen {
namespace {

// Groups are packed in slices of about this many bytes, each slice's file pages released as
// soon as it is copied, so packing never holds a second copy of more than one slice.
constexpr size_t kSliceBytes = size_t(4) << 20;

void pack(Tensor& w, LoadedModel& model) {
  std::vector<uint8_t>& packed = model.buffers.emplace_back(packed_bytes(w));
  const MappedFile* file = nullptr;
  for (const auto& f : model.files)
    if (f->contains(w.data)) file = f.get();
  const size_t group_bytes = packed_group_bytes(w);
  const int64_t groups = w.rows() / kPackRows;
  const int64_t slice = std::max<int64_t>(1, int64_t(kSliceBytes / group_bytes));
  for (int64_t g = 0; g < groups; g += slice) {
    const int64_t end = std::min(groups, g + slice);
    pack_groups(w, g, end, packed.data());
    if (file) file->release(w.row(g * kPackRows), size_t(end - g) * kPackRows * row_bytes(w.type, w.row_length()));
  }
  w.data = packed.data();
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
  int packed = 0;
  for (Tensor* t : matrices)
    if (t->present() && can_pack(*t)) {
      pack(*t, model);
      ++packed;
    }
  return packed;
}

}  // namespace lumen
