#pragma once
// Reads the golden files of tests/data/goldens (format in its README): one case per
// "### prompt: ... steps: N" header, with prompt_ids, sequence_ids and the printed text.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace lumen::test {

struct GoldenCase {
  std::string prompt;
  int32_t steps = 0;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> sequence_ids;
  std::string text;
};

inline std::vector<int32_t> parse_ids(const std::string& line) {
  std::istringstream in(line.substr(line.find(':') + 1));
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// The prompt is written shell-quoted: '' for empty, backslash before spaces and quotes.
inline std::string unquote_prompt(const std::string& quoted) {
  if (quoted == "''") return "";
  std::string out;
  for (size_t i = 0; i < quoted.size(); ++i) out += quoted[i] == '\\' && i + 1 < quoted.size() ? quoted[++i] : quoted[i];
  return out;
}

inline std::vector<GoldenCase> read_goldens(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string s = all.str();
  std::vector<GoldenCase> cases;
  for (size_t at = s.find("### prompt: "); at != std::string::npos;) {
    const size_t next = s.find("\n### prompt: ", at + 1);
    const std::string block = s.substr(at, next == std::string::npos ? std::string::npos : next - at);
    GoldenCase c;
    const size_t steps_at = block.find(" steps: ");
    c.prompt = unquote_prompt(block.substr(12, steps_at - 12));
    c.steps = std::stoi(block.substr(steps_at + 8));
    const size_t p = block.find("\nprompt_ids:"), q = block.find("\nsequence_ids:"), t = block.find("\ntext:\n");
    c.prompt_ids = parse_ids(block.substr(p + 1, block.find('\n', p + 1) - p - 1));
    c.sequence_ids = parse_ids(block.substr(q + 1, block.find('\n', q + 1) - q - 1));
    c.text = block.substr(t + 7);
    while (!c.text.empty() && c.text.back() == '\n') c.text.pop_back();
    cases.push_back(c);
    at = next == std::string::npos ? next : next + 1;
  }
  return cases;
}

}  // namespace lumen::test
