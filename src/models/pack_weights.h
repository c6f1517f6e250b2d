#pragma once
// Repacks a loaded decoder's Q4_0 and Q8_0 matrices once, at load, into the layout their
// fastest kernels read (kernels/packed_layout.h), and hands the file pages they came from back
// to the system: the model then holds one copy of each weight, as with plain mmap'd weights.
#include "formats/loaded_model.h"

namespace lumen {

// Packs every matrix of model.weights that can_pack() accepts (the classifier only when it is
// not tied to the token embedding, which is read row by row); returns how many it packed.
int pack_weights(LoadedModel& model);

}  // namespace lumen
