#pragma once
// A model's config.json read field by field: every accessor names the file and the field in
// its lumen::Error when the field is missing or has the wrong type. The encoder families
// (BERT, the encoder–decoder Transformer), the Hugging Face decoder families and the vision
// families read their hyper-parameters through it.
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lumen/error.h"

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
  std::optional<bool> opt_bool(const char* key) const;
  // Optional lists (the vision configs' mean/std and labels); every element must have the type.
  std::optional<std::vector<float>> opt_floats(const char* key) const;
  std::optional<std::vector<std::string>> opt_strings(const char* key) const;
  // The first name of the `architectures` list.
  std::string architecture() const;

  // Fails when an optional field is present with a value other than the one lumen supports:
  // "PATH: field 'KEY' = VALUE is not supported (WHY)".
  template <typename T>
  void require(const char* key, const T& expected, const std::string& why) const {
    if (has(key) && j_[key] != nlohmann::json(expected)) unsupported(key, why);
  }
  // The same for an optional string field that must be one of `allowed` (and a string).
  void require_string(const char* key, std::initializer_list<std::string_view> allowed, const std::string& why) const;

  // Runs check() (a validate() of what was read from here) with this file's path put before the
  // message of any lumen::Error it throws.
  template <typename Check>
  void checked(Check&& check) const {
    try {
      check();
    } catch (const Error& e) {
      bad_config(e.what());
    }
  }

  const std::string& path() const { return path_; }
  [[noreturn]] void bad(const char* key, const std::string& why) const;  // "PATH: field 'KEY' WHY"

 private:
  [[noreturn]] void unsupported(const char* key, const std::string& why) const;
  [[noreturn]] void bad_config(const char* why) const;  // "PATH: WHY"
  const nlohmann::json& need(const char* key) const;
  std::string path_;
  nlohmann::json j_;
};

}  // namespace lumen
