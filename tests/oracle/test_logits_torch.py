"""lumen's logits against an independent PyTorch forward pass (llama_reference.py).

Random-weight llama2.c models, one with GQA (odd head count per KV group) and one with MHA,
are generated here; lumen writes the logits of every prompt position with --logits-out, the
reference computes them in float64. Tolerance: max |lumen - ref| / max |ref| <= 1e-4 over all
positions and the whole vocabulary, and the same argmax at every position. The KV cache is kept
in float32 here (lumen's default is f16, as llama.cpp's), so the comparison is of the math alone.
"""
import os
import subprocess
import sys

import numpy as np

import llama_reference
import oracle_args
from oracle_checks import Checks

TOLERANCE = 1e-4
MODELS = {
    # name: generator arguments (vocab 32000 so the Llama 2 tokenizer fits)
    "gqa": ["--dim", "120", "--hidden", "232", "--layers", "3", "--heads", "6", "--kv-heads", "2",
            "--vocab", "32000", "--seq-len", "128", "--seed", "11", "--std", "0.08", "--unshared"],
    "mha": ["--dim", "96", "--hidden", "200", "--layers", "2", "--heads", "3", "--kv-heads", "3",
            "--vocab", "32000", "--seq-len", "128", "--seed", "12", "--std", "0.08"],
}
PROMPTS = ["Once upon a time, in a land far away, there lived a dragon who loved to count numbers: 1, 2, 3.",
           "x",
           # long enough (> 64 tokens) that lumen splits the prompt into several forward batches
           " ".join(f"word{i} and, then" for i in range(16))]


def main():
    a = oracle_args.parse(__doc__)
    tokenizer = os.path.join(a.source, "models", "tokenizer.bin")
    generator = os.path.join(a.source, "tests", "tools", "make_random_llama2c.py")
    check = Checks()
    for name, gen_args in MODELS.items():
        model = os.path.join(a.work, f"oracle-{name}.bin")
        subprocess.run(["/usr/bin/python3", generator, model, *gen_args], check=True, stdout=subprocess.DEVNULL)
        cfg, weights = llama_reference.load_llama2c(model)
        for i, prompt in enumerate(PROMPTS):
            for threads in ("1", "2"):
                out = os.path.join(a.work, f"logits-{name}-{i}-{threads}.npy")
                subprocess.run([a.lumen, "run", "-m", model, "-z", tokenizer, "-p", prompt, "-n", "0",
                                "-t", threads, "--logits-out", out,
                                "--cache-type-k", "f32", "--cache-type-v", "f32"], check=True, stdout=subprocess.DEVNULL)
                ours = np.load(out)
                ids = subprocess.run([a.lumen, "tokenize", "-m", model, "-z", tokenizer, "--ids", "-p", prompt],
                                     check=True, capture_output=True, text=True).stdout
                tokens = [int(t) for t in ids.strip().strip("[]").split(",")]
                ref = llama_reference.forward(cfg, weights, tokens).numpy()
                err = np.abs(ours - ref).max() / np.abs(ref).max()
                same_argmax = (ours.argmax(-1) == ref.argmax(-1)).all()
                ok = ours.shape == ref.shape and err <= TOLERANCE and same_argmax
                check(f"{name} prompt {i} threads {threads}", ok,
                      f"{len(tokens)} positions, relative max error {err:.2e}, argmax equal {same_argmax}")
    return check.status()


if __name__ == "__main__":
    sys.exit(main())
