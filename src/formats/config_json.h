#pragma once
// A model's config.json read field by field: every accessor names the file and the field in
// its lumen::Error when the field is missing or has the wrong type. The encoder families
// (BERT, the encoder–decoder Transformer) read their hyper-parameters through it.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace lumen {

class ConfigJson {
 public:
  // Reads `path` (a config.json); `what` says what was expected there in the error when the
  // file is absent ("a Hugging Face BERT folder").
  ConfigJson(const std::string& path, const std::string& what);

  bool has(const char* key) const;
  int32_t get_int(const char* key) const;  // a non-negative integer that fits int32
  std::optional<int32_t> opt_int(const char* key) const;
  float get_float(const char* key) const;
  std::optional<float> opt_float(const char* key) const;
  std::string get_string(const char* key) const;
  std::optional<std::string> opt_string(const char* key) const;
  // The first name of the `architectures` list.
  std::string architecture() const;

  const std::string& path() const { return path_; }
  [[noreturn]] void bad(const char* key, const std::string& why) const;  // "PATH: field 'KEY' WHY"

 private:
  const nlohmann::json& need(const char* key) const;
  std::string path_;
  nlohmann::json j_;
};

}  // namespace lumen
