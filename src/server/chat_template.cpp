#include "server/chat_template.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <vector>

#include "util/error.h"

namespace lumen::server {

const char* const kFallbackChatTemplate =
    "{% for message in messages %}{{ message['role'] + ': ' + message['content'] | trim }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

namespace {

using json = nlohmann::json;

// Limits that a template from an untrusted model file cannot pass: nesting (parentheses,
// `not`, unary minus, blocks) and tokens per expression bound the recursion of parsing and
// rendering, which would otherwise overflow the stack; the length of any string, list or
// rendered text and the number of loop iterations bound memory and time (`set s = s + s` in a
// loop doubles s each pass). Real templates stay far below them.
constexpr int kMaxNesting = 64;
constexpr size_t kMaxTokens = 1000;
constexpr size_t kMaxLength = size_t(1) << 24;
constexpr uint64_t kMaxIterations = uint64_t(1) << 20;

void check_length(size_t n) {
  if (n > kMaxLength) fail("chat template: a string or list longer than ", kMaxLength, " would be built");
}

// Jinja's "undefined" (a missing variable or key) is kept apart from none: `is defined` tells
// them apart, and both render as nothing.
json undefined() { return json(json::value_t::discarded); }
bool is_undefined(const json& v) { return v.is_discarded(); }

// Variables live in a stack of scopes: a for loop pushes one, and `set` writes the innermost.
class Scope {
 public:
  explicit Scope(json globals) { frames_.push_back(std::move(globals)); }
  json get(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it)
      if (auto found = it->find(name); found != it->end()) return *found;
    return undefined();
  }
  void set(const std::string& name, json value) { frames_.back()[name] = std::move(value); }
  void push() { frames_.push_back(json::object()); }
  void pop() { frames_.pop_back(); }
  void count_iteration() {
    if (++iterations_ > kMaxIterations) fail("chat template: more than ", kMaxIterations, " loop iterations");
  }

 private:
  std::vector<json> frames_;
  uint64_t iterations_ = 0;
};

using Expr = std::function<json(Scope&)>;
using Renderer = std::function<void(Scope&, std::string&)>;

bool truthy(const json& v) {
  if (is_undefined(v) || v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
  return true;
}

std::string to_text(const json& v) {
  if (is_undefined(v) || v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";  // as Python prints them
  return v.dump();
}

// A value as an error message shows it: JSON, so one line whatever the text holds, and short.
std::string shown(const json& v) {
  constexpr size_t kShown = 60;
  if (is_undefined(v)) return "undefined";
  const std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > kShown ? text.substr(0, kShown) + "..." : text;
}

std::string trim(std::string s, bool left = true, bool right = true) {
  const auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  if (right) s.erase(std::find_if_not(s.rbegin(), s.rend(), space).base(), s.end());
  if (left) s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), space));
  return s;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::toupper(c)); });
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

const std::string& need_string(const json& v, const char* what) {
  if (!v.is_string()) fail("chat template: ", what, " needs a string, not ", shown(v));
  return v.get_ref<const std::string&>();
}

// Index `i` of a list or string, counting from the end when negative.
size_t position(int64_t i, size_t size) {
  return size_t(std::clamp<int64_t>(i < 0 ? i + int64_t(size) : i, 0, int64_t(size)));
}

json subscript(const json& v, const json& key) {
  if (v.is_object() && key.is_string()) {
    auto it = v.find(key.get<std::string>());
    return it == v.end() ? undefined() : *it;
  }
  if ((v.is_array() || v.is_string()) && key.is_number_integer()) {
    const int64_t i = key.get<int64_t>();
    const size_t size = v.is_array() ? v.size() : v.get_ref<const std::string&>().size();
    if (i >= int64_t(size) || i < -int64_t(size)) return undefined();
    const size_t at = position(i, size);
    return v.is_array() ? v[at] : json(v.get_ref<const std::string&>().substr(at, 1));
  }
  return undefined();
}

json slice(const json& v, const json& from, const json& to) {
  const size_t size = v.is_array() ? v.size() : v.is_string() ? v.get_ref<const std::string&>().size() : 0;
  if (!v.is_array() && !v.is_string()) fail("chat template: only lists and strings can be sliced");
  // get<int64_t> of a float bound would convert it unchecked (undefined beyond int64's range).
  for (const json* bound : {&from, &to})
    if (!bound->is_null() && !bound->is_number_integer()) fail("chat template: slice bound ", shown(*bound), " is not an integer");
  const size_t a = from.is_null() ? 0 : position(from.get<int64_t>(), size);
  const size_t b = std::max(a, to.is_null() ? size : position(to.get<int64_t>(), size));
  if (v.is_string()) return v.get_ref<const std::string&>().substr(a, b - a);
  return json(std::vector<json>(v.begin() + std::ptrdiff_t(a), v.begin() + std::ptrdiff_t(b)));
}

json arithmetic(char op, const json& a, const json& b) {
  if (op == '~') {
    std::string x = to_text(a), y = to_text(b);
    check_length(x.size() + y.size());
    return x + y;
  }
  if (op == '+' && a.is_string() && b.is_string()) {
    check_length(a.get_ref<const std::string&>().size() + b.get_ref<const std::string&>().size());
    return a.get<std::string>() + b.get<std::string>();
  }
  if (op == '+' && a.is_array() && b.is_array()) {
    check_length(a.size() + b.size());
    json out = a;
    out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  if (!a.is_number() || !b.is_number())
    fail("chat template: cannot apply '", op, "' to ", shown(a), " and ", shown(b));
  if (a.is_number_integer() && b.is_number_integer() && op != '/') {
    const int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
    if (op == '%') {
      if (y == 0) fail("chat template: modulo by zero");
      if (y == -1) return 0;  // INT64_MIN % -1 overflows (a trap on x86)
      const int64_t r = x % y;
      return r != 0 && (r < 0) != (y < 0) ? r + y : r;  // Python's sign convention
    }
    int64_t r = 0;
    if (op == '+' ? __builtin_add_overflow(x, y, &r) : op == '-' ? __builtin_sub_overflow(x, y, &r)
                                                     : __builtin_mul_overflow(x, y, &r))
      fail("chat template: integer overflow in ", x, " ", op, " ", y);
    return r;
  }
  const double x = a.get<double>(), y = b.get<double>();
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    case '/': return x / y;
    default: fail("chat template: '%' needs integers");
  }
}

bool contains(const json& container, const json& item) {
  if (container.is_string()) return container.get_ref<const std::string&>().find(need_string(item, "'in'")) != std::string::npos;
  if (container.is_array()) return std::find(container.begin(), container.end(), item) != container.end();
  if (container.is_object()) return item.is_string() && container.contains(item.get<std::string>());
  return false;
}

json apply_test(const std::string& test, const json& v) {
  if (test == "defined") return !is_undefined(v);
  if (test == "undefined") return is_undefined(v);
  if (test == "none") return v.is_null();
  if (test == "string") return v.is_string();
  if (test == "number") return v.is_number();
  if (test == "boolean") return v.is_boolean();
  if (test == "mapping") return v.is_object();
  if (test == "sequence" || test == "iterable") return v.is_array() || v.is_string() || v.is_object();
  if (test == "true") return v.is_boolean() && v.get<bool>();
  if (test == "false") return v.is_boolean() && !v.get<bool>();
  if (test == "even" || test == "odd") return v.is_number_integer() && (v.get<int64_t>() % 2 == 0) == (test == "even");
  fail("chat template: unknown test '", test, "'");
}

json apply_filter(const std::string& name, const json& v, const std::vector<json>& args) {
  if (name == "trim") return trim(to_text(v));
  if (name == "upper") return upper(to_text(v));
  if (name == "lower") return lower(to_text(v));
  if (name == "string") return to_text(v);
  if (name == "tojson") return v.dump();
  if (name == "default") return is_undefined(v) ? (args.empty() ? json("") : args[0]) : v;
  if (name == "length" || name == "count") {
    if (v.is_string()) return v.get_ref<const std::string&>().size();
    if (v.is_array() || v.is_object()) return v.size();
    fail("chat template: length of ", shown(v));
  }
  if (name == "first" || name == "last") {
    if (!v.is_array() || v.empty()) return undefined();
    return name == "first" ? v.front() : v.back();
  }
  fail("chat template: unknown filter '", name, "'");
}

json call_method(const json& v, const std::string& name, const std::vector<json>& args) {
  const std::string& s = need_string(v, name.c_str());
  if (name == "strip") return trim(s);
  if (name == "lstrip") return trim(s, true, false);
  if (name == "rstrip") return trim(s, false, true);
  if (name == "upper") return upper(s);
  if (name == "lower") return lower(s);
  if ((name == "startswith" || name == "endswith") && args.size() == 1) {
    const std::string& affix = need_string(args[0], name.c_str());
    return name == "startswith" ? s.starts_with(affix) : s.ends_with(affix);
  }
  fail("chat template: unknown method '", name, "'");
}

// ---- template text → segments ------------------------------------------------------------

struct Segment {
  enum Kind { Text, Output, Statement } kind;
  std::string body;
};

// Splits the template into text, {{ output }} and {% statement %} segments (comments dropped),
// applying the `-` markers and Hugging Face's trim_blocks + lstrip_blocks.
std::vector<Segment> split_segments(const std::string& src) {
  std::vector<Segment> out;
  std::string text;
  bool strip_next = false;     // a `-}}`/`-%}` before: drop the next text's leading whitespace
  bool trim_newline = false;   // a block tag before: drop one newline right after it
  size_t pos = 0;
  const auto flush_text = [&](std::string chunk) {
    if (strip_next) chunk = trim(chunk, true, false);
    else if (trim_newline && chunk.starts_with('\n')) chunk.erase(0, 1);
    strip_next = trim_newline = false;
    text += chunk;
  };
  while (pos < src.size()) {
    const size_t open = src.find('{', pos);
    const char kind = open == std::string::npos || open + 1 >= src.size() ? 0 : src[open + 1];
    if (kind != '{' && kind != '%' && kind != '#') {
      const size_t next = open == std::string::npos ? src.size() : open + 1;
      flush_text(src.substr(pos, next - pos));
      pos = next;
      continue;
    }
    flush_text(src.substr(pos, open - pos));
    size_t body = open + 2;
    const bool block = kind != '{';
    if (body < src.size() && src[body] == '-') {
      text = trim(text, false, true);
      ++body;
    } else if (block) {
      // lstrip_blocks: spaces before a block tag at the start of a line go.
      const size_t line = text.find_last_of('\n');
      const size_t from = line == std::string::npos ? 0 : line + 1;
      const bool line_start = line != std::string::npos || out.empty();
      if (line_start && text.find_first_not_of(" \t", from) == std::string::npos) text.erase(from);
    }
    const std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t end = body;
    char quote = 0;
    for (; end < src.size(); ++end) {
      if (quote) {
        if (src[end] == '\\') ++end;
        else if (src[end] == quote) quote = 0;
      } else if (kind != '#' && (src[end] == '\'' || src[end] == '"')) {
        quote = src[end];
      } else if (src.compare(end, close.size(), close) == 0) {
        break;
      }
    }
    if (end >= src.size()) fail("chat template: unclosed '{", kind, "'");
    size_t body_end = end;
    const bool strip_after = body_end > body && src[body_end - 1] == '-';
    if (strip_after) --body_end;
    if (!text.empty()) out.push_back({Segment::Text, std::move(text)});
    text.clear();
    if (kind != '#') out.push_back({kind == '{' ? Segment::Output : Segment::Statement, src.substr(body, body_end - body)});
    strip_next = strip_after;
    trim_newline = block;
    pos = end + close.size();
  }
  if (!text.empty()) out.push_back({Segment::Text, std::move(text)});
  return out;
}

// ---- expressions ---------------------------------------------------------------------------

struct Token {
  enum Kind { Name, Number, String, Op, End } kind;
  std::string text;
  json value;
};

// An integer or a decimal literal; out of range or malformed ("1.2.3") is an error.
json number(const std::string& digits) {
  const char* end = digits.data() + digits.size();
  std::from_chars_result r;
  json value;
  if (digits.find('.') == std::string::npos) {
    int64_t n = 0;
    r = std::from_chars(digits.data(), end, n);
    value = n;
  } else {
    double d = 0;
    r = std::from_chars(digits.data(), end, d);
    value = d;
  }
  if (r.ec != std::errc() || r.ptr != end) fail("chat template: number ", digits, " is out of range or malformed");
  return value;
}

std::vector<Token> lex(const std::string& src) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < src.size()) {
    const char c = src[i];
    if (std::isspace(uint8_t(c))) {
      ++i;
    } else if (std::isalpha(uint8_t(c)) || c == '_') {
      size_t j = i;
      while (j < src.size() && (std::isalnum(uint8_t(src[j])) || src[j] == '_')) ++j;
      out.push_back({Token::Name, src.substr(i, j - i), {}});
      i = j;
    } else if (std::isdigit(uint8_t(c))) {
      size_t j = i;
      while (j < src.size() && (std::isdigit(uint8_t(src[j])) || src[j] == '.')) ++j;
      const std::string digits = src.substr(i, j - i);
      out.push_back({Token::Number, digits, number(digits)});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::string s;
      size_t j = i + 1;
      for (; j < src.size() && src[j] != c; ++j) {
        if (src[j] != '\\' || j + 1 == src.size()) {
          s += src[j];
          continue;
        }
        const char e = src[++j];
        s += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
      }
      if (j >= src.size()) fail("chat template: unterminated string");
      out.push_back({Token::String, "", s});
      i = j + 1;
    } else {
      static const char* const two[] = {"==", "!=", "<=", ">="};
      const auto op = std::find_if(std::begin(two), std::end(two), [&](const char* o) { return src.compare(i, 2, o) == 0; });
      const size_t n = op != std::end(two) ? 2 : 1;
      if (n == 1 && std::string_view("+-*/%~()[].,|:=<>").find(c) == std::string_view::npos)
        fail("chat template: unexpected character '", c, "'");
      out.push_back({Token::Op, src.substr(i, n), {}});
      i += n;
    }
  }
  out.push_back({Token::End, "", {}});
  return out;
}

// Counts one level of recursion while it lives; past kMaxNesting levels the template is refused.
class Nesting {
 public:
  explicit Nesting(int& depth) : depth_(depth) {
    if (++depth_ > kMaxNesting) fail("chat template: nested more than ", kMaxNesting, " deep");
  }
  ~Nesting() { --depth_; }
  Nesting(const Nesting&) = delete;
  Nesting& operator=(const Nesting&) = delete;

 private:
  int& depth_;
};

// Recursive descent over Jinja's precedence: inline if < or < and < not < comparison/in/is
// < + - ~ < * / % < unary minus < postfix (.attr [i] (call) |filter).
class ExprParser {
 public:
  explicit ExprParser(const std::string& src) : tokens_(lex(src)) {
    if (tokens_.size() > kMaxTokens) fail("chat template: an expression of more than ", kMaxTokens, " tokens");
  }

  Expr parse_all() {
    Expr e = parse();
    expect_end();
    return e;
  }
  Expr parse() {
    const Nesting nest(depth_);
    Expr value = parse_or();
    if (!accept_name("if")) return value;
    Expr cond = parse_or();
    Expr other = accept_name("else") ? parse() : Expr([](Scope&) { return undefined(); });
    return [=](Scope& s) { return truthy(cond(s)) ? value(s) : other(s); };
  }
  bool accept_name(const char* name) {
    if (peek().kind != Token::Name || peek().text != name) return false;
    ++pos_;
    return true;
  }
  bool accept_op(const char* op) {
    if (peek().kind != Token::Op || peek().text != op) return false;
    ++pos_;
    return true;
  }
  std::string name() {
    if (peek().kind != Token::Name) fail("chat template: expected a name, found '", peek().text, "'");
    return tokens_[pos_++].text;
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) fail("chat template: expected '", op, "', found '", peek().text, "'");
  }
  void expect_end() {
    if (peek().kind != Token::End) fail("chat template: unexpected '", peek().text, "'");
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }

  Expr parse_or() {
    Expr left = parse_and();
    while (accept_name("or")) {
      Expr right = parse_and();
      left = [=](Scope& s) { return json(truthy(left(s)) || truthy(right(s))); };
    }
    return left;
  }
  Expr parse_and() {
    Expr left = parse_not();
    while (accept_name("and")) {
      Expr right = parse_not();
      left = [=](Scope& s) { return json(truthy(left(s)) && truthy(right(s))); };
    }
    return left;
  }
  Expr parse_not() {
    if (!accept_name("not")) return parse_comparison();
    const Nesting nest(depth_);
    Expr inner = parse_not();
    return [=](Scope& s) { return json(!truthy(inner(s))); };
  }
  Expr parse_comparison() {
    Expr left = parse_additive();
    for (;;) {
      if (accept_name("is")) {
        const bool negate = accept_name("not");
        const std::string test = accept_name("none") ? "none" : name();
        left = [=](Scope& s) { return json(apply_test(test, left(s)).get<bool>() != negate); };
      } else if (peek().kind == Token::Name && (peek().text == "in" || peek().text == "not")) {
        const bool negate = accept_name("not");
        if (!accept_name("in")) fail("chat template: expected 'in' after 'not'");
        Expr right = parse_additive();
        left = [=](Scope& s) { return json(contains(right(s), left(s)) != negate); };
      } else if (peek().kind == Token::Op && (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
                                              peek().text == ">" || peek().text == "<=" || peek().text == ">=")) {
        const std::string op = tokens_[pos_++].text;
        Expr right = parse_additive();
        left = [=](Scope& s) {
          const json a = left(s), b = right(s);
          if (op == "==") return json(a == b);
          if (op == "!=") return json(a != b);
          if (a.type() != b.type() && !(a.is_number() && b.is_number()))
            fail("chat template: cannot order ", shown(a), " and ", shown(b));
          return json(op == "<" ? a < b : op == ">" ? b < a : op == "<=" ? !(b < a) : !(a < b));
        };
      } else {
        return left;
      }
    }
  }
  Expr parse_additive() {
    Expr left = parse_multiplicative();
    while (peek().kind == Token::Op && (peek().text == "+" || peek().text == "-" || peek().text == "~")) {
      const char op = tokens_[pos_++].text[0];
      Expr right = parse_multiplicative();
      left = [=](Scope& s) { return arithmetic(op, left(s), right(s)); };
    }
    return left;
  }
  Expr parse_multiplicative() {
    Expr left = parse_unary();
    while (peek().kind == Token::Op && (peek().text == "*" || peek().text == "/" || peek().text == "%")) {
      const char op = tokens_[pos_++].text[0];
      Expr right = parse_unary();
      left = [=](Scope& s) { return arithmetic(op, left(s), right(s)); };
    }
    return left;
  }
  Expr parse_unary() {
    if (!accept_op("-")) return parse_postfix();
    const Nesting nest(depth_);
    Expr inner = parse_unary();
    return [=](Scope& s) { return arithmetic('-', json(0), inner(s)); };
  }
  std::vector<Expr> parse_args() {  // after '(' up to and including ')'
    std::vector<Expr> args;
    while (!accept_op(")")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse());
    }
    return args;
  }
  static std::vector<json> eval_all(const std::vector<Expr>& exprs, Scope& s) {
    std::vector<json> out;
    for (const Expr& e : exprs) out.push_back(e(s));
    return out;
  }
  Expr parse_postfix() {
    Expr e = parse_primary();
    for (;;) {
      if (accept_op(".")) {
        const std::string attr = name();
        if (accept_op("(")) {
          const std::vector<Expr> args = parse_args();
          e = [=](Scope& s) { return call_method(e(s), attr, eval_all(args, s)); };
        } else {
          e = [=](Scope& s) { return subscript(e(s), attr); };
        }
      } else if (accept_op("[")) {
        Expr from = peek().text == ":" ? Expr([](Scope&) { return json(); }) : parse();
        if (accept_op(":")) {
          Expr to = peek().text == "]" ? Expr([](Scope&) { return json(); }) : parse();
          expect_op("]");
          e = [=](Scope& s) { return slice(e(s), from(s), to(s)); };
        } else {
          expect_op("]");
          e = [=](Scope& s) { return subscript(e(s), from(s)); };
        }
      } else if (accept_op("|")) {
        const std::string filter = name();
        const std::vector<Expr> args = accept_op("(") ? parse_args() : std::vector<Expr>{};
        e = [=](Scope& s) { return apply_filter(filter, e(s), eval_all(args, s)); };
      } else {
        return e;
      }
    }
  }
  Expr parse_primary() {
    const Token t = peek();
    ++pos_;
    if (t.kind == Token::Number || t.kind == Token::String) return [v = t.value](Scope&) { return v; };
    if (t.kind == Token::Op && t.text == "(") {
      Expr inner = parse();
      expect_op(")");
      return inner;
    }
    if (t.kind == Token::Op && t.text == "[") {
      const std::vector<Expr> items = [&] {
        std::vector<Expr> v;
        while (!accept_op("]")) {
          if (!v.empty()) expect_op(",");
          v.push_back(parse());
        }
        return v;
      }();
      return [=](Scope& s) { return json(eval_all(items, s)); };
    }
    if (t.kind != Token::Name) fail("chat template: unexpected '", t.text, "'");
    if (t.text == "true" || t.text == "True") return [](Scope&) { return json(true); };
    if (t.text == "false" || t.text == "False") return [](Scope&) { return json(false); };
    if (t.text == "none" || t.text == "None") return [](Scope&) { return json(); };
    if (t.text == "raise_exception") {
      expect_op("(");
      const std::vector<Expr> args = parse_args();
      return [=](Scope& s) -> json {
        std::string message = args.empty() ? std::string("error") : to_text(args[0](s));
        std::replace(message.begin(), message.end(), '\n', ' ');  // errors are one line
        fail("chat template: ", message);
      };
    }
    return [name = t.text](Scope& s) { return s.get(name); };
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

// ---- statements ----------------------------------------------------------------------------

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Segment> segments) : segments_(std::move(segments)) {}

  Renderer parse_template() {
    auto [body, end] = parse_block({});
    return body;
  }

 private:
  // Parses segments until a statement whose keyword is in `ends`; returns the block and that
  // statement's parser (positioned after the keyword).
  std::pair<Renderer, std::unique_ptr<ExprParser>> parse_block(const std::vector<std::string>& ends) {
    std::vector<Renderer> parts;
    while (pos_ < segments_.size()) {
      const Segment& seg = segments_[pos_++];
      if (seg.kind == Segment::Text) {
        parts.push_back([text = seg.body](Scope&, std::string& out) {
          out += text;
          check_length(out.size());
        });
        continue;
      }
      auto p = std::make_unique<ExprParser>(seg.body);
      if (seg.kind == Segment::Output) {
        Expr e = p->parse_all();
        parts.push_back([e](Scope& s, std::string& out) {
          out += to_text(e(s));
          check_length(out.size());
        });
        continue;
      }
      const std::string keyword = p->name();
      if (std::find(ends.begin(), ends.end(), keyword) != ends.end()) {
        last_keyword_ = keyword;
        return {sequence(std::move(parts)), std::move(p)};
      }
      if (keyword == "if") parts.push_back(parse_if(*p));
      else if (keyword == "for") parts.push_back(parse_for(*p));
      else if (keyword == "set") parts.push_back(parse_set(*p));
      else fail("chat template: unsupported statement '", keyword, "'");
    }
    if (!ends.empty()) fail("chat template: missing {% ", ends.back(), " %}");
    return {sequence(std::move(parts)), nullptr};
  }

  static Renderer sequence(std::vector<Renderer> parts) {
    return [parts = std::move(parts)](Scope& s, std::string& out) {
      for (const Renderer& r : parts) r(s, out);
    };
  }

  Renderer parse_if(ExprParser& head) {
    const Nesting nest(depth_);
    std::vector<std::pair<Expr, Renderer>> branches;
    Expr cond = head.parse_all();
    for (;;) {
      auto [body, next] = parse_block({"elif", "else", "endif"});
      branches.emplace_back(cond, body);
      if (last_keyword_ == "endif") break;
      if (last_keyword_ == "else") {
        auto [other, end] = parse_block({"endif"});
        branches.emplace_back([](Scope&) { return json(true); }, other);
        break;
      }
      cond = next->parse_all();
    }
    return [branches](Scope& s, std::string& out) {
      for (const auto& [c, body] : branches)
        if (truthy(c(s))) return body(s, out);
    };
  }

  Renderer parse_for(ExprParser& head) {
    const Nesting nest(depth_);
    const std::string var = head.name();
    if (!head.accept_name("in")) fail("chat template: expected 'in' in for");
    Expr list = head.parse_all();
    Renderer body = parse_block({"endfor"}).first;  // not a structured binding: the lambda captures it
    return [=](Scope& s, std::string& out) {
      const json items = list(s);
      if (is_undefined(items) || items.is_null()) return;
      if (!items.is_array()) fail("chat template: for loops over lists only");
      s.push();
      for (size_t i = 0; i < items.size(); ++i) {
        s.count_iteration();
        s.set(var, items[i]);
        s.set("loop", {{"index0", i}, {"index", i + 1}, {"first", i == 0}, {"last", i + 1 == items.size()},
                       {"length", items.size()}});
        body(s, out);
      }
      s.pop();
    };
  }

  Renderer parse_set(ExprParser& head) {
    const std::string var = head.name();
    head.expect_op("=");
    Expr value = head.parse_all();
    return [=](Scope& s, std::string&) { s.set(var, value(s)); };
  }

  std::vector<Segment> segments_;
  size_t pos_ = 0;
  std::string last_keyword_;
  int depth_ = 0;
};

}  // namespace

struct ChatTemplate::Program {
  Renderer render;
};

ChatTemplate::ChatTemplate(const std::string& source)
    : program_(std::make_unique<Program>(Program{TemplateParser(split_segments(source)).parse_template()})) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const json& variables) const {
  Scope scope(variables);
  std::string out;
  try {
    program_->render(scope, out);
  } catch (const json::exception& e) {  // e.g. slicing with a non-integer bound
    fail("chat template: ", e.what());
  }
  return out;
}

}  // namespace lumen::server
