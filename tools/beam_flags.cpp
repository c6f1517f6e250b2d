#include "beam_flags.h"

#include "lumen/lumen.h"

namespace lumen::cli {

void BeamFlags::add_to(CLI::App& cmd, const std::string& note) {
  cmd.add_option("--beams", beams,
                 "beam search with this many beams (2.." + std::to_string(BeamOptions::kMaxBeams) + "; " + note + ")")
      ->capture_default_str();
  length_penalty_option_ =
      cmd.add_option("--length-penalty", length_penalty,
                     "beam score = sum of logprobs / length^X (Hugging Face's; > 0 favours longer texts)")
          ->capture_default_str();
}

void BeamFlags::check(std::span<const CLI::Option* const> not_with_beams, const std::string& why) const {
  if (beams < 1 || beams > BeamOptions::kMaxBeams)
    throw Error("--beams " + std::to_string(beams) + " is outside 1.." + std::to_string(BeamOptions::kMaxBeams));
  if (beams == 1 && length_penalty_option_->count() > 0) throw Error("--length-penalty applies to --beams 2 or more");
  for (const CLI::Option* o : not_with_beams)
    if (beams > 1 && o->count() > 0) throw Error(o->get_name() + " does not apply to beam search (--beams), " + why);
}

}  // namespace lumen::cli
