// Streaming text to clients: SSE framing, whole UTF-8 characters only, stop strings cut
// exactly, and nothing of a stop string sent before it is known not to complete.
#include <gtest/gtest.h>

#include "server/sse.h"
#include "server/text_stream.h"

namespace lumen::server {
namespace {

TEST(ServerSse, FramesOneEventPerDataLine) {
  EXPECT_EQ(sse_event({{"a", "x\ny"}}), "data: {\"a\":\"x\\ny\"}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
}

TEST(ServerSse, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(to_wire(std::string("a\xff")), "\"a\xEF\xBF\xBD\"");
}

TEST(ServerText, IncompleteUtf8Tail) {
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xC3"), 1u);              // é's first byte
  EXPECT_EQ(incomplete_utf8_tail("a\xC3\xA9"), 0u);          // é whole
  EXPECT_EQ(incomplete_utf8_tail("\xE2\x82"), 2u);           // € missing its last byte
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);       // 😀 missing one
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\x80\x80"), 0u);           // stray continuation bytes
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
}

TEST(ServerText, HoldsASplitCharacterUntilComplete) {
  TextStream s;
  EXPECT_EQ(s.push("caf"), "caf");
  EXPECT_EQ(s.push("\xC3"), "");
  EXPECT_EQ(s.push("\xA9!"), "\xC3\xA9!");
  EXPECT_EQ(s.push("\xF0\x9F"), "");
  EXPECT_EQ(s.push("\x98"), "");
  EXPECT_EQ(s.push("\x80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(s.flush(), "");
}

TEST(ServerText, StopStringSpanningPiecesIsCutExactly) {
  TextStream s({"\n\n", "END"});
  EXPECT_EQ(s.push("Hello E"), "Hello ");  // "E" may begin END
  EXPECT_EQ(s.push("N"), "");
  EXPECT_EQ(s.push("Dless"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("more"), "");
  EXPECT_EQ(s.flush(), "");
}

TEST(ServerText, HeldPrefixIsReleasedWhenTheStopDoesNotComplete) {
  TextStream s({"END"});
  EXPECT_EQ(s.push("an E"), "an ");
  EXPECT_EQ(s.push("x"), "Ex");
  EXPECT_EQ(s.push("EN"), "");
  EXPECT_EQ(s.flush(), "EN");  // generation ended: no stop can complete any more
  EXPECT_FALSE(s.stopped());
}

TEST(ServerText, EarliestStopWins) {
  TextStream s({"c", "abc"});
  EXPECT_EQ(s.push("xabc"), "x");
  EXPECT_TRUE(s.stopped());
}

TEST(ServerText, EmptyStopStringsAreIgnored) {
  TextStream s({""});
  EXPECT_EQ(s.push("abc"), "abc");
  EXPECT_FALSE(s.stopped());
}

}  // namespace
}  // namespace lumen::server
