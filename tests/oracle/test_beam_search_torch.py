"""lumen's beam search against a Python one (beam_reference.py, Hugging Face's rules) driven by an
independent PyTorch forward pass (llama_reference.py) in float64.

A random-weight GQA model whose EOS classifier row is scaled up, so that EOS wins at some
positions and hypotheses end at different lengths (with early stopping) rather than all running
to the token budget. `lumen run --beams` must print the reference's best hypothesis, token for
token, with its score within 1e-4, having run as many beam tokens (the same live beams for the
same number of steps). The KV cache is float32, so the comparison is of the math (the
f16 default rounds keys and values, which can flip a close ranking).
"""
import os
import subprocess
import sys

import numpy as np

import beam_reference
import llama_reference
import oracle_args
from oracle_checks import Checks

SCORE_TOLERANCE = 1e-4
MODEL = ["--dim", "120", "--hidden", "232", "--layers", "3", "--heads", "6", "--kv-heads", "2",
         "--vocab", "32000", "--seq-len", "128", "--seed", "11", "--std", "0.08", "--unshared"]
EOS, BOS = 2, 1
# (prompt, beams, length penalty, new tokens, EOS row scale)
# The first two end every hypothesis and stop early (after 19 steps, HF's heuristic) well within
# their budget; the last two run to it.
CASES = [("Once upon a time, there was a", 4, 1.0, 30, 8.0),
         ("Once upon a time, there was a", 4, 0.0, 30, 8.0),
         ("Once upon a time, there was a", 3, 2.0, 20, 6.0),
         ("A dog and a cat were friends. They played in the big park all day", 3, 1.0, 12, 8.0)]


def scale_eos_row(path, out, vocab, dim, scale):
    """Copies a llama2.c checkpoint with an unshared classifier (the file's last vocab x dim floats),
    the EOS row multiplied by `scale`."""
    raw = bytearray(open(path, "rb").read())
    at = len(raw) - vocab * dim * 4 + EOS * dim * 4
    row = np.frombuffer(raw, dtype=np.float32, count=dim, offset=at) * np.float32(scale)
    raw[at:at + dim * 4] = row.tobytes()
    open(out, "wb").write(raw)


def main():
    a = oracle_args.parse(__doc__)
    tokenizer = os.path.join(a.source, "models", "tokenizer.bin")
    generator = os.path.join(a.source, "tests", "tools", "make_random_llama2c.py")
    base = os.path.join(a.work, "beam-base.bin")
    subprocess.run(["/usr/bin/python3", generator, base, *MODEL], check=True, stdout=subprocess.DEVNULL)
    check = Checks()
    for i, (prompt, beams, penalty, n, scale) in enumerate(CASES):
        model = os.path.join(a.work, f"beam-eos{scale:g}.bin")
        cfg, _ = llama_reference.load_llama2c(base)
        scale_eos_row(base, model, cfg["vocab"], cfg["dim"], scale)
        cfg, weights = llama_reference.load_llama2c(model)
        ids = subprocess.run([a.lumen, "tokenize", "-m", model, "-z", tokenizer, "--ids", "-p", prompt],
                             check=True, capture_output=True, text=True).stdout
        tokens = [int(t) for t in ids.strip().strip("[]").split(",")]
        out = os.path.join(a.work, f"beam-tokens-{i}.txt")
        run = subprocess.run([a.lumen, "run", "-m", model, "-z", tokenizer, "-p", prompt, "-n", str(n),
                              "--beams", str(beams), "--length-penalty", str(penalty), "-t", "2",
                              "--cache-type-k", "f32", "--cache-type-v", "f32", "--tokens-out", out],
                             check=True, capture_output=True, text=True)
        ours = [int(t) for t in open(out).read().split()]
        our_score, our_beam_tokens = beam_reference.lumen_stats(run.stderr)
        runs = []

        def logits_of(sequence):
            runs.append(len(sequence))
            return llama_reference.forward(cfg, weights, sequence)[-1]

        ref = beam_reference.beam_search(logits_of, tokens, beams, penalty, n, [EOS, BOS])
        ref_score, ref_tokens, ref_ended = ref[0]
        # Every sequence the reference ran after the prompt is a beam token lumen ran: the same
        # count means the same beams lived for the same steps (early stopping included).
        ref_beam_tokens = len(runs) - 1
        ended = sum(e for _, _, e in ref)
        ok = (ours == ref_tokens and abs(our_score - ref_score) <= SCORE_TOLERANCE
              and our_beam_tokens == ref_beam_tokens)
        check(f"case {i} ({beams} beams, length penalty {penalty})", ok,
              f"best has {len(ref_tokens)} tokens{' and ended' if ref_ended else ''}, {ended} of {len(ref)} "
              f"hypotheses ended; score lumen {our_score:.6f} reference {ref_score:.6f}; beam tokens lumen "
              f"{our_beam_tokens} reference {ref_beam_tokens}")
        if ours != ref_tokens:
            print(f"  lumen     {ours}\n  reference {ref_tokens}")
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
