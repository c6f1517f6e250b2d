#pragma once
// JSON mode (OpenAI's response_format json_object) as a constraint on each draw: a token whose
// bytes cannot continue the JSON generated so far gets a logit of -inf before the sampler sees
// the logits, so whatever the sampling parameters the output is a prefix of a JSON object; once
// the object is complete only the end of text may follow. Tokens without text of their own
// (control, unknown, unused) are never drawn, except the end of text.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/json_prefix.h"

namespace lumen {

struct Vocab;

// Every token's bytes as it streams out in the middle of a text; empty for tokens without text.
using TokenBytes = std::vector<std::string>;
std::shared_ptr<const TokenBytes> token_bytes(const Vocab& vocab);

class JsonConstraint {
 public:
  // end_token: the token that ends a text (EOS, or BOS where a vocabulary has no EOS).
  JsonConstraint(std::shared_ptr<const TokenBytes> bytes, int32_t end_token);

  // Sets the logits of the tokens that may not come next to -inf. Should no token fit (a
  // vocabulary without the bytes JSON needs), the end of text is left open rather than none.
  void mask(float* logits) const;
  // The drawn token joins the text.
  void accept(int32_t token);

 private:
  std::shared_ptr<const TokenBytes> bytes_;
  int32_t end_token_;
  JsonPrefix text_;
};

}  // namespace lumen
