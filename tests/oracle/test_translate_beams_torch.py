"""`lumen translate --beams` against a Python beam search (beam_reference.py, Hugging Face's rules,
EOS the one end token) driven by PyTorch's own nn.Transformer forward in float64
(encoder_models.py: the memory once per source, each target recomputed under the causal mask).

The random nn.Transformer of test_encoders_torch.py (d_model 48, 3 heads, 2+2 layers, FFN 80),
its generator's EOS bias raised by 7 so that EOS competes: hypotheses end at different lengths,
some searches stop early and others run to the 16-token budget. For every case lumen's best
translation (--tokens-out, EOS included when it ended) equals the reference's token for token,
its score (stderr) is within 1e-4 of the reference's (lumen's logits are float32, its logprob
sums float64), and it ran as many beam tokens as the reference ran sequences after BOS: the same
beams lived for the same steps. Beams that continued the wrong parent's cache would give other
logits and so other tokens. One case must find a translation that scores better than greedy
decoding's, by the reference's own numbers, so that the search is seen to do more than greedy.
"""
import os
import subprocess
import sys

import torch

import beam_reference
import encoder_models as em
import oracle_args

SCORE_TOLERANCE = 1e-4
EOS_BIAS = 7.0
MAX_TOKENS = 16
# (source, beams, length penalty); the first must beat greedy decoding.
CASES = [("s9 s9 s15 s2 s11 s6 s8 s17 s13", 2, 1.0),
         ("s9 s9 s15 s2 s11 s6 s8 s17 s13", 4, 1.0),
         ("s14 s22 s6 s19", 4, 1.0),
         ("s14 s22 s6 s19", 5, 2.0),
         ("s3 s7 s1 s12 s5", 4, 1.0),
         ("s3 s7 s1 s12 s5", 8, 2.0),
         ("s20 s4", 3, 0.0)]


def score_of(logits_of, tokens, length_penalty):
    """A finished target's beam score: its summed logprobs over its length ** length_penalty."""
    total = sum(torch.log_softmax(logits_of([em.BOS] + tokens[:i]), -1)[t].item() for i, t in enumerate(tokens))
    return total / len(tokens) ** length_penalty


def main():
    a = oracle_args.parse(__doc__)
    src_words = em.SPECIALS + [f"s{i}" for i in range(26)]
    tgt_words = em.SPECIALS + [f"t{i}" for i in range(33)]
    max_len = 32
    m = em.seq2seq(41, len(src_words), len(tgt_words), d_model=48, nhead=3, enc_layers=2, dec_layers=2, ffn=80,
                   max_len=max_len)
    with torch.no_grad():
        m.generator.bias[em.EOS] += EOS_BIAS
    model = os.path.join(a.work, "beam-seq2seq")
    em.write_seq2seq(model, m, src_words, tgt_words, max_len)
    ref_model = m.double()
    passed = failed = 0
    for i, (text, beams, penalty) in enumerate(CASES):
        src = [src_words.index(w) for w in text.split()] + [em.EOS]
        out = os.path.join(a.work, f"beam-seq2seq-{i}.txt")
        run = subprocess.run([a.lumen, "translate", "-m", model, "-p", text, "-n", str(MAX_TOKENS), "--beams",
                              str(beams), "--length-penalty", str(penalty), "-t", "2", "--tokens-out", out],
                             check=True, capture_output=True, text=True)
        ours = [int(t) for t in open(out).read().split()]
        our_score, our_beam_tokens = beam_reference.lumen_stats(run.stderr)
        runs = []
        with torch.no_grad():
            memory = ref_model.encode(torch.tensor([src]))

            def logits_of(target):
                runs.append(len(target))
                return ref_model.next_logits(memory, target)

            ref = beam_reference.beam_search(logits_of, [em.BOS], beams, penalty, MAX_TOKENS, [em.EOS])
            ref_beam_tokens = len(runs) - 1  # every sequence run after BOS alone
            ref_score, ref_tokens, ref_ended = ref[0]
            want = ref_tokens + ([em.EOS] if ref_ended else [])
            greedy, _ = ref_model.greedy(torch.tensor([src]), MAX_TOKENS)
            greedy_score = score_of(logits_of, greedy, penalty)
        ok = ours == want and abs(our_score - ref_score) <= SCORE_TOLERANCE and our_beam_tokens == ref_beam_tokens
        words = " ".join(tgt_words[t] for t in ref_tokens)
        ok = ok and run.stdout == words + "\n"
        note = ""
        if i == 0:  # the case that must beat greedy decoding
            better = want != greedy and ref_score > greedy_score
            ok = ok and better
            note = f"; greedy {'scores less' if better else 'is as good'} ({greedy_score:.6f}, {len(greedy)} tokens)"
        ended = sum(e for _, _, e in ref)
        print(f"{'ok' if ok else 'FAIL'}: case {i} ({beams} beams, length penalty {penalty}): best has "
              f"{len(want)} tokens{' and ended' if ref_ended else ''}, {ended} of {len(ref)} hypotheses ended; "
              f"score lumen {our_score:.6f} reference {ref_score:.6f}; beam tokens lumen {our_beam_tokens} "
              f"reference {ref_beam_tokens}{note}", flush=True)
        if ours != want:
            print(f"  lumen     {ours}\n  reference {want}")
        passed += ok
        failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
