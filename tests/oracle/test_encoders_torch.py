"""The two families that are not decoder-only, against PyTorch's own modules (encoder_models.py).

BERT (`lumen embed`): a random BertModel folder (hidden 60, 3 heads, FFN 100, 2 layers, a tiny
WordPiece tokenizer.json). For cls and mean pooling, with and without --normalize, the vectors
of several texts embedded in one call (a packed batch in lumen, a padded batch with a key
padding mask in the reference) agree within 1e-4 relative max error; so do those of a
BertForMaskedLM folder (the `bert.` prefix) and of the GGUF `lumen convert` writes from it.

Encoder-decoder (`lumen translate`): a random nn.Transformer (d_model 48, 3 heads, 2+2 layers,
FFN 80) exported to lumen's folder format. For 3 source sentences the logits of every decoded
step agree within 1e-4 and the greedy ids are identical to a torch greedy loop.
"""
import os
import sys

import numpy as np
import torch

import encoder_models as em
import oracle_args
from oracle_checks import Checks, rel_err, run

TOLERANCE = 1e-4
TEXTS = ["The quick brown fox jumps over the lazy dog.",
         "hello world!",
         "Unbelievable story, a cat sat on the mat and it was raining?",
         "sun"]
SOURCES = ["s3 s7 s1 s12 s5", "s20 s4", "s9 s9 s15 s2 s11 s6 s8 s17 s13"]
MAX_TOKENS = 12




def main():
    a = oracle_args.parse(__doc__)
    check = Checks()

    # --- BERT ---
    for name, prefix in (("bert", ""), ("bert-mlm", "bert.")):
        cfg, sd = em.bert(31, dim=60, heads=3, inter=100, layers=2, max_pos=40, prefix=prefix)
        model = os.path.join(a.work, f"enc-{name}")
        em.write_bert(model, cfg, sd)
        gguf = model + ".gguf"
        run([a.lumen, "convert", "-m", model, "-o", gguf])
        sequences = [[int(t) for t in run([a.lumen, "tokenize", "-m", model, "--ids", "-p", text]).strip().strip("[]").split(",")]
                     for text in TEXTS]
        prompts = [arg for text in TEXTS for arg in ("-p", text)]
        for pooling in ("cls", "mean"):
            for normalize in (False, True):
                flags = ["--pooling", pooling] + (["--normalize"] if normalize else [])
                what = f"{pooling}{' normalized' if normalize else ''}"
                ref = em.bert_reference(cfg, sd, sequences, pooling, normalize).numpy()
                out = os.path.join(a.work, f"enc-{name}-{what.replace(' ', '-')}.npy")
                run([a.lumen, "embed", "-m", model, *prompts, *flags, "--output", out])
                ours = np.load(out)
                err = rel_err(ours, ref)
                check(name, err <= TOLERANCE, f"{what}: {len(TEXTS)} texts ({[len(s) for s in sequences]} tokens), "
                      f"relative max error {err:.2e}")
                out_g = out.replace(".npy", "-gguf.npy")
                run([a.lumen, "embed", "-m", gguf, *prompts, *flags, "--output", out_g])
                err_g = rel_err(np.load(out_g), ours)
                check(name, err_g <= 1e-6, f"{what}: converted GGUF vs folder, relative max error {err_g:.2e}")
        # one text alone gives what it gives inside the batch
        out1 = os.path.join(a.work, f"enc-{name}-single.npy")
        run([a.lumen, "embed", "-m", model, "-p", TEXTS[2], "--pooling", "mean", "--output", out1])
        ref1 = em.bert_reference(cfg, sd, [sequences[2]], "mean", False).numpy()
        err1 = rel_err(np.load(out1), ref1)
        check(name, err1 <= TOLERANCE, f"single text, mean: relative max error {err1:.2e}")

    # --- encoder-decoder ---
    src_words = em.SPECIALS + [f"s{i}" for i in range(26)]
    tgt_words = em.SPECIALS + [f"t{i}" for i in range(33)]
    max_len = 32
    m = em.seq2seq(41, len(src_words), len(tgt_words), d_model=48, nhead=3, enc_layers=2, dec_layers=2, ffn=80,
                   max_len=max_len)
    model = os.path.join(a.work, "enc-seq2seq")
    em.write_seq2seq(model, m, src_words, tgt_words, max_len)
    ref_model = m.double()
    for i, text in enumerate(SOURCES):
        src = [src_words.index(w) for w in text.split()] + [em.EOS]
        with torch.no_grad():
            want, ref_logits = ref_model.greedy(torch.tensor([src]), MAX_TOKENS)
        out = os.path.join(a.work, f"enc-seq2seq-{i}.npy")
        ids_out = os.path.join(a.work, f"enc-seq2seq-{i}.txt")
        printed = run([a.lumen, "translate", "-m", model, "-p", text, "-n", str(MAX_TOKENS), "--logits-out", out,
                       "--tokens-out", ids_out]).strip()
        with open(ids_out) as f:
            got = [int(t) for t in f.read().split()]
        err = rel_err(np.load(out), ref_logits.numpy())
        check("seq2seq", err <= TOLERANCE, f"source {i}: {len(got)} steps, logits relative max error {err:.2e}")
        check("seq2seq", got == want, f"source {i}: greedy ids identical ({got})" if got == want
              else f"source {i}: greedy differs: lumen {got} reference {want}")
        words = " ".join(tgt_words[t] for t in want if t != em.EOS)
        check("seq2seq", printed == words, f"source {i}: printed text '{printed}'")
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
