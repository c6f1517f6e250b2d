#pragma once
// --beams and --length-penalty, for the subcommands that can search with beams (run, translate),
// so that both take and refuse them alike.
#include <cstdint>
#include <span>
#include <string>

#include <CLI/CLI.hpp>

namespace lumen::cli {

struct BeamFlags {
  int32_t beams = 1;  // 1: the command's search without beams
  float length_penalty = 1.0f;

  // `note` ends the --beams help: what the command does with one beam, what does not apply.
  void add_to(CLI::App& cmd, const std::string& note);
  // Throws a one-line Error for --beams outside 1..BeamOptions::kMaxBeams, --length-penalty
  // without beams, or any of `not_with_beams` given with beams (`why` follows its name).
  // Called before the model loads, which can take a while.
  void check(std::span<const CLI::Option* const> not_with_beams, const std::string& why) const;

 private:
  const CLI::Option* length_penalty_option_ = nullptr;
};

}  // namespace lumen::cli
