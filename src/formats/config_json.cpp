#include "formats/config_json.h"

#include <cstdint>
#include <fstream>

#include "util/error.h"
#include "util/json_depth.h"

namespace lumen {

using nlohmann::json;

ConfigJson::ConfigJson(const std::string& path, const std::string& what) : path_(path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open (expected ", what, ")");
  try {
    j_ = json::parse(in, json_depth_limit());
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  if (!j_.is_object()) fail(path, ": not a JSON object");
}

bool ConfigJson::has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

const json& ConfigJson::need(const char* key) const {
  if (!has(key)) fail(path_, ": missing field '", key, "'");
  return j_[key];
}

void ConfigJson::bad(const char* key, const std::string& why) const { fail(path_, ": field '", key, "' ", why); }

int32_t ConfigJson::get_int(const char* key) const {
  const json& v = need(key);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
    bad(key, "= " + v.dump() + " is not a non-negative integer");
  return int32_t(v.get<int64_t>());
}

std::optional<int32_t> ConfigJson::opt_int(const char* key) const {
  return has(key) ? std::optional<int32_t>(get_int(key)) : std::nullopt;
}

float ConfigJson::get_float(const char* key) const {
  const json& v = need(key);
  if (!v.is_number()) bad(key, "= " + v.dump() + " is not a number");
  return v.get<float>();
}

std::optional<float> ConfigJson::opt_float(const char* key) const {
  return has(key) ? std::optional<float>(get_float(key)) : std::nullopt;
}

std::string ConfigJson::get_string(const char* key) const {
  const json& v = need(key);
  if (!v.is_string()) bad(key, "= " + v.dump() + " is not a string");
  return v.get<std::string>();
}

std::optional<std::string> ConfigJson::opt_string(const char* key) const {
  return has(key) ? std::optional<std::string>(get_string(key)) : std::nullopt;
}

std::optional<bool> ConfigJson::opt_bool(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& v = j_[key];
  if (!v.is_boolean()) bad(key, "= " + v.dump() + " is not true or false");
  return v.get<bool>();
}

std::optional<std::vector<float>> ConfigJson::opt_floats(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& v = j_[key];
  std::vector<float> out;
  if (v.is_array())
    for (const json& e : v) {
      if (!e.is_number()) break;
      out.push_back(e.get<float>());
    }
  if (!v.is_array() || out.size() != v.size()) bad(key, "= " + v.dump() + " is not a list of numbers");
  return out;
}

std::optional<std::vector<std::string>> ConfigJson::opt_strings(const char* key) const {
  if (!has(key)) return std::nullopt;
  const json& v = j_[key];
  std::vector<std::string> out;
  if (v.is_array())
    for (const json& e : v) {
      if (!e.is_string()) break;
      out.push_back(e.get<std::string>());
    }
  if (!v.is_array() || out.size() != v.size()) bad(key, "is not a list of strings");
  return out;
}

void ConfigJson::require_string(const char* key, std::initializer_list<std::string_view> allowed,
                                const std::string& why) const {
  const std::optional<std::string> v = opt_string(key);
  if (!v) return;
  for (std::string_view a : allowed)
    if (*v == a) return;
  bad(key, "= \"" + *v + "\" is not supported (" + why + ")");
}

void ConfigJson::unsupported(const char* key, const std::string& why) const {
  bad(key, "= " + j_[key].dump() + " is not supported (" + why + ")");
}

void ConfigJson::bad_config(const char* why) const { fail(path_, ": ", why); }

std::string ConfigJson::architecture() const {
  // lumen's image-classifier folders name one "architecture" (docs/FORMATS.md): say what they are.
  if (!has("architectures") && j_.contains("architecture") && j_["architecture"].is_string())
    bad_config(("holds an image classifier (" + j_["architecture"].get<std::string>() +
                "): run it with `lumen classify`").c_str());
  const json& a = need("architectures");
  if (!a.is_array() || a.empty() || !a[0].is_string()) bad("architectures", "is not a list of names");
  return a[0].get<std::string>();
}

}  // namespace lumen
