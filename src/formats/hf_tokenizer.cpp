#include "formats/hf_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "tokenizer/pre_tokenizer.h"
#include "util/error.h"
#include "util/json_depth.h"

namespace lumen {
namespace {

using nlohmann::json;

// j[key] where `where` names j in the error ("tokenizer.json model").
const json& need(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) fail(where, " has no '", key, "'");
  return j[key];
}

template <typename T>
T need_as(const json& j, const char* key, const std::string& where) {
  const json& v = need(j, key, where);
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    fail(where, ".", key, " has the wrong type (", v.type_name(), ")");
  }
}

json parse_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open ", path.string());
  try {
    return json::parse(in, json_depth_limit());
  } catch (const json::exception& e) {
    fail(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

// The pieces, with added tokens typed Control (special) or UserDefined; every id in
// [0, size) must be named once.
void read_pieces(const json& tok, const json& model, Vocab& v) {
  std::map<int64_t, std::string> by_id;
  for (const auto& [piece, id] : need(model, "vocab", "tokenizer.json model").items()) {
    if (!id.is_number_integer()) fail("tokenizer.json model.vocab['", piece, "'] is not an integer id");
    by_id[id.get<int64_t>()] = piece;
  }
  std::map<int64_t, TokenType> added;
  if (tok.contains("added_tokens")) {
    for (const json& t : tok["added_tokens"]) {
      const auto id = need_as<int64_t>(t, "id", "tokenizer.json added_tokens[]");
      by_id[id] = need_as<std::string>(t, "content", "tokenizer.json added_tokens[]");
      added[id] = t.value("special", false) ? TokenType::Control : TokenType::UserDefined;
    }
  }
  if (by_id.empty()) fail("tokenizer.json model.vocab is empty");
  if (by_id.begin()->first != 0 || by_id.rbegin()->first != int64_t(by_id.size()) - 1)
    fail("tokenizer.json ids are not 0..", by_id.size() - 1, " without gaps");
  for (auto& [id, piece] : by_id) {
    v.pieces.push_back(std::move(piece));
    const auto it = added.find(id);
    v.types.push_back(it != added.end() ? it->second : TokenType::Normal);
  }
  v.scores.assign(v.pieces.size(), 0.0f);
}

int32_t id_of(const Vocab& v, const std::string& piece, const std::string& what) {
  for (int32_t id = 0; id < v.size(); ++id)
    if (v.pieces[id] == piece) return id;
  fail("tokenizer.json has no token '", piece, "' (", what, ")");
}

// tokenizer_config.json names a token as a string or as {"content": ...}.
std::string config_token(const json& config, const char* key) {
  const json& t = config[key];
  return t.is_object() ? need_as<std::string>(t, "content", std::string("tokenizer_config.json ") + key)
                       : t.get<std::string>();
}

// The regexes a byte-level pre-tokenizer runs, as pre_tokenizer.h writes them.
std::vector<std::string> byte_level_regexes(const json& pre) {
  const std::string type = need_as<std::string>(pre, "type", "tokenizer.json pre_tokenizer");
  if (type == "ByteLevel" && pre.value("add_prefix_space", false))
    fail("tokenizer.json pre_tokenizer ByteLevel.add_prefix_space is not supported");
  if (type == "ByteLevel") return pre.value("use_regex", true) ? std::vector<std::string>{kGpt2Regex} : std::vector<std::string>{};
  if (type == "Split") return {need_as<std::string>(need(pre, "pattern", "tokenizer.json Split"), "Regex", "tokenizer.json Split.pattern")};
  if (type == "Digits") return {pre.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)"};
  if (type == "Sequence") {
    std::vector<std::string> all;
    for (const json& p : need(pre, "pretokenizers", "tokenizer.json pre_tokenizer")) {
      auto part = byte_level_regexes(p);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  fail("tokenizer.json pre_tokenizer type '", type, "' is not supported for byte-level BPE");
}

bool mentions_byte_level(const json& j) {
  if (j.is_object() && j.value("type", "") == "ByteLevel") return true;
  if (j.is_object() || j.is_array())
    for (const json& child : j)
      if (mentions_byte_level(child)) return true;
  return false;
}

void read_merges(const json& model, Vocab& v) {
  for (const json& m : need(model, "merges", "tokenizer.json model")) {
    if (m.is_string()) {
      v.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());  // the newer form
    } else {
      fail("tokenizer.json model.merges holds an entry that is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
}

// The post-processor's template: a special token before the text is the BOS to add, one
// after it the EOS. BertProcessing is the [CLS] ... [SEP] template.
void read_post_processor(const json& tok, Vocab& v) {
  const json& post = tok.contains("post_processor") ? tok["post_processor"] : json();
  if (!post.is_object()) return;
  const std::string type = post.value("type", "");
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    // cls and sep are [token, id] pairs; [0] of an empty array would read past its end.
    const auto token = [&](const char* key) {
      const json& pair = need(post, key, "tokenizer.json post_processor");
      if (!pair.is_array() || pair.empty()) fail("tokenizer.json post_processor.", key, " is not a [token, id] pair");
      return id_of(v, pair[0].get<std::string>(), std::string("post_processor.") + key);
    };
    v.bos_id = token("cls");
    v.eos_id = token("sep");
    v.add_bos = v.add_eos = true;
  } else if (type == "TemplateProcessing") {
    const json& single = need(post, "single", "tokenizer.json post_processor");
    const auto special_id = [&](const json& item) {
      return id_of(v, need_as<std::string>(item["SpecialToken"], "id", "tokenizer.json post_processor.single[]"),
                   "post_processor.single");
    };
    v.add_bos = !single.empty() && single.front().contains("SpecialToken");
    v.add_eos = single.size() > 1 && single.back().contains("SpecialToken");
    if (v.add_bos) v.bos_id = special_id(single.front());
    if (v.add_eos) v.eos_id = special_id(single.back());
  }
}

Vocab vocab_from(const json& tok, const json* config) {
  const json& model = need(tok, "model", "tokenizer.json");
  const std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
  Vocab v;
  read_pieces(tok, model, v);
  v.bos_id = v.eos_id = v.unk_id = -1;
  v.add_bos = false;
  const json unk = model.value("unk_token", json());
  if (unk.is_string()) v.unk_id = id_of(v, unk.get<std::string>(), "model.unk_token");

  if (type == "WordPiece") {
    v.model = "bert";
    if (model.value("continuing_subword_prefix", "##") != "##")
      fail("tokenizer.json model.continuing_subword_prefix is not '##'");
    const json normalizer = tok.value("normalizer", json());
    if (!normalizer.is_object() || normalizer.value("type", "") != "BertNormalizer" || !normalizer.value("lowercase", true))
      fail("tokenizer.json normalizer is not BertNormalizer with lowercase (cased WordPiece is not supported)");
    if (v.unk_id < 0) fail("tokenizer.json model has no 'unk_token', which WordPiece needs");
    // llama.cpp's spelling (vocab.h): ▁ on word starts, continuations without their "##";
    // control and bracketed tokens ([CLS], [unused0]) as they are.
    for (int32_t id = 0; id < v.size(); ++id) {
      std::string& p = v.pieces[id];
      if (v.types[id] == TokenType::Control || (p.starts_with('[') && p.ends_with(']'))) continue;
      p = p.starts_with("##") ? p.substr(2) : "\xE2\x96\x81" + p;
    }
    v.cls_id = v.bos_id = id_of(v, "[CLS]", "BERT's classifier token");
    v.sep_id = v.eos_id = id_of(v, "[SEP]", "BERT's separator token");
    v.add_bos = v.add_eos = true;
  } else if (type == "BPE" && mentions_byte_level(tok.value("pre_tokenizer", json()))) {
    v.model = "gpt2";
    const auto regexes = byte_level_regexes(tok["pre_tokenizer"]);
    const auto name = pre_tokenizer_name(regexes);
    if (!name) fail("tokenizer.json pre_tokenizer (", regexes.size(), " regexes) is not one lumen knows");
    v.pre = *name;
    read_merges(model, v);
  } else if (type == "BPE" && model.value("byte_fallback", false)) {
    // SentencePiece BPE exported by Hugging Face: pieces keep their ▁ spaces and come in
    // SentencePiece's order, best first, so -id serves as the score SpmTokenizer ranks by.
    v.model = "llama";
    v.add_bos = true;
    for (int32_t id = 0; id < v.size(); ++id) {
      v.scores[id] = -float(id);
      const std::string& p = v.pieces[id];
      if (v.types[id] == TokenType::Normal && p.size() == 6 && p.starts_with("<0x") && p.back() == '>')
        v.types[id] = TokenType::Byte;
    }
    if (v.unk_id >= 0) v.types[v.unk_id] = TokenType::Unknown;
  } else {
    fail("tokenizer.json model type '", type, "' is not supported (lumen reads WordPiece, byte-level BPE and "
         "BPE with byte fallback)");
  }
  read_post_processor(tok, v);

  if (config) {
    if (config->contains("bos_token") && !(*config)["bos_token"].is_null())
      v.bos_id = id_of(v, config_token(*config, "bos_token"), "tokenizer_config.json bos_token");
    if (config->contains("eos_token") && !(*config)["eos_token"].is_null())
      v.eos_id = id_of(v, config_token(*config, "eos_token"), "tokenizer_config.json eos_token");
    v.add_bos = config->value("add_bos_token", v.add_bos);
    v.add_eos = config->value("add_eos_token", v.add_eos);
    const json tmpl = config->value("chat_template", json());
    if (tmpl.is_string()) {
      v.chat_template = tmpl.get<std::string>();
    } else if (tmpl.is_array() && !tmpl.empty()) {  // named templates: "default", else the first
      v.chat_template = tmpl[0].value("template", "");
      for (const json& t : tmpl)
        if (t.value("name", "") == "default") v.chat_template = t.value("template", "");
    }
  }
  return v;
}

}  // namespace

Vocab hf_tokenizer_vocab(const json& tok, const json* config) {
  try {
    return vocab_from(tok, config);
  } catch (const json::exception& e) {  // a field of an unexpected type
    fail("tokenizer.json: ", e.what());
  }
}

Vocab read_hf_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file = fs::is_directory(path) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  const fs::path config_file = file.parent_path() / "tokenizer_config.json";
  try {
    const json tok = parse_file(file);
    if (!fs::exists(config_file)) return hf_tokenizer_vocab(tok, nullptr);
    const json config = parse_file(config_file);
    return hf_tokenizer_vocab(tok, &config);
  } catch (const Error& e) {
    fail(file.string(), ": ", e.what());
  }
}

}  // namespace lumen
