"""Oracle: lumen's SentencePiece BPE must give the same token ids as the sentencepiece library.

Compares `lumen tokenize -z TOKENIZER.bin --ids` with SentencePiece on the same tokenizer's
.model file, over strings chosen to hit the corner cases (spaces, bytes, scripts, emoji,
malformed UTF-8, text that looks like special tokens), for the Llama 2 tokenizer and tok512;
and on a tokenizer trained here without byte fallback, where unknown runs become one <unk>.
"""
import argparse
import io
import os
import random
import struct
import subprocess
import sys

import sentencepiece as spm

CORPUS = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", " \t \n ", "a", " a", "a ", "  a  b   c  ",
    "Hello world", "Hello, world!", "hello world", "HELLO WORLD",
    "Once upon a time, there was a little girl named Lily.",
    "The quick brown fox jumps over the lazy dog.\nThe end.\n",
    "line one\nline two\r\nline three\rend", "tabs\tand\t\tmore\ttabs",
    "0", "12", "123", "1234567890", "3.14159", "-42", "1,000,000", "2024-01-01T12:00:00Z",
    "café naïve résumé façade", "Ünïcödé àéîõü", "Straße", "ﬁ ligature", "e\u0301 combining",
    "日本語のテキスト", "中文字符测试", "한국어 텍스트입니다", "Привет, мир!", "Γειά σου κόσμε",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "ภาษาไทย",
    "🤗", "emoji 🤗🚀👍🏽 mix", "👨‍👩‍👧‍👦 family", "🇺🇸🇫🇷", "\U0001F600\U0001F601", "\u2581 literal lower-one-eighth",
    "<s>", "</s>", "<unk>", "<0x0A>", "<s> text </s>", "<0xFF><0x00>", "[INST] hi [/INST]",
    "def f(x):\n    return x ** 2  # square\n", "int main() { return 0; }", "if (a && b || !c) {}",
    "!!!???...,,,;;;", "\"quoted\" 'single' `back`", "a" * 300,
    "supercalifragilisticexpialidocious" * 20, "mixed English 中文 and 한국어 and 🤗 emoji",
    "\u00a0non-breaking\u00a0space", "zero\u200bwidth", "\x00nul\x00byte", "\x7f\x01\x1f controls",
]
# Malformed UTF-8: lone continuation, truncated sequences, overlong, surrogate, out of range.
BAD_UTF8 = [b"\xff", b"a\x80b", b"\xc3", b"x\xe4\xb8", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"ok \xf0\x9f\xa4 cut emoji"]
# tok512.model was trained with SentencePiece's default remove_extra_whitespaces=true, which a
# .bin cannot say: llama2.c (and lumen, and llama.cpp from GGUF) keep every space. So runs of
# spaces, and leading or trailing ones, encode differently there by design; tested elsewhere.
TOK512_CORPUS = ["Once upon a time", "Lily and Ben went to the park.", "", "\n", "日本", "🤗!",
                 "The dog's ball, 3 big cats!\nThe end."]


def lumen_ids(lumen, tokenizer, text, work):
    """Token ids (no BOS) from `lumen tokenize`; text is str or bytes."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    cmd = [lumen, "tokenize", "-z", tokenizer, "--ids", "--no-bos"]
    if isinstance(text, str) and text and text.isprintable() and not text.startswith("-"):
        cmd += ["-p", text]
    else:  # newlines, NULs, bytes and leading dashes travel safely in a file
        path = os.path.join(work, "prompt.txt")
        with open(path, "wb") as f:
            f.write(data)
        cmd += ["-f", path]
    out = subprocess.run(cmd, capture_output=True)
    if out.returncode != 0:
        return "lumen failed: " + out.stderr.decode(errors="replace").strip()
    line = out.stdout.decode().strip()
    return [int(x) for x in line.strip("[]").split(",") if x.strip()]


def compare(lumen, sp, tokenizer, corpus, work):
    failed = 0
    for text in corpus:
        want = sp.encode(text)
        got = lumen_ids(lumen, tokenizer, text, work)
        if got != want:
            failed += 1
            where = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))) \
                if isinstance(got, list) else 0
            print(f"MISMATCH {os.path.basename(tokenizer)} {text!r}\n  sentencepiece {want}\n  lumen         {got}\n"
                  f"  first difference at index {where}")
    return len(corpus) - failed, failed


def write_llama2c_tokenizer(sp, path):
    """The llama2.c exporter's layout: max length, then score, length, bytes per piece."""
    pieces = [sp.id_to_piece(i).replace("\u2581", " ").encode() for i in range(sp.get_piece_size())]
    with open(path, "wb") as f:
        f.write(struct.pack("i", max(len(p) for p in pieces)))
        for i, p in enumerate(pieces):
            f.write(struct.pack("fi", sp.get_score(i), len(p)) + p)


def trained_without_byte_fallback(work):
    """A small BPE tokenizer with Llama's normalisation but no byte pieces."""
    text = ["the cat sat on the mat", "a dog ate the bone", "hello world", "the  old  man"] * 50
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, model_type="bpe",
                                   vocab_size=48, byte_fallback=False, normalization_rule_name="identity",
                                   remove_extra_whitespaces=False, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    path = os.path.join(work, "nobytes.bin")
    write_llama2c_tokenizer(sp, path)
    return sp, path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lumen", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    models = os.path.join(args.source, "models")

    rng = random.Random(7)
    alphabet = "ab c\n\t.,!é世🤗<>0x"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))) for _ in range(20)]

    llama = spm.SentencePieceProcessor(model_file=os.path.join(models, "tokenizer.model"))
    tok512 = spm.SentencePieceProcessor(model_file=os.path.join(models, "tok512.model"))
    nobytes, nobytes_bin = trained_without_byte_fallback(args.work)
    runs = [
        (llama, os.path.join(models, "tokenizer.bin"), CORPUS + BAD_UTF8 + fuzz),
        (tok512, os.path.join(models, "tok512.bin"), TOK512_CORPUS),
        (nobytes, nobytes_bin, ["the cat", "zzz the qq mat", "世界 hello", "  old  ", "x"]),
    ]
    passed = failed = 0
    for sp, tokenizer, corpus in runs:
        p, f = compare(args.lumen, sp, tokenizer, corpus, args.work)
        passed, failed = passed + p, failed + f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
