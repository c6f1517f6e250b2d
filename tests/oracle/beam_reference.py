"""Beam search as Hugging Face's generate(num_beams=B, early_stopping=False) runs it, over any
function that gives the next-token logits of a token sequence.

Written from HF's BeamSearchScorer (transformers/generation/beam_search.py) in its own shape, a
flat top-k over beams x vocabulary as HF takes it, not from lumen's code: each step scores every
(beam, token) pair by the beam's summed logprobs plus the token's log-softmax, keeps the best
(1 + end tokens) x B, and walks them best first. An end token ranked among the first B finishes a
hypothesis, scored sum / generated_length ** length_penalty (the end token counted); other tokens
make the next beams until there are B. Done (HF's is_done with early_stopping=False) once B
hypotheses are finished and the worst scores at least the best candidate's sum over this step's
length. At the token budget the live beams join the hypotheses. Ties are broken by beam, then
token id (HF leaves them to torch.topk); the tests' random models have none that matter.

lumen_stats reads what lumen reports of its own search, for the tests to compare.
"""
import re

import torch


def beam_search(logits_of, prompt, beams, length_penalty, max_new_tokens, end_tokens):
    """Returns the best (score, tokens, ended) hypotheses, best first, at most `beams`."""
    end_tokens = sorted(set(end_tokens))
    live = [([], 0.0)]  # (generated tokens, sum of logprobs)
    finished = []        # (score, tokens, ended), kept best first, at most `beams`

    def keep(h):
        # HF's BeamHypotheses.add: in if there is room or it beats the worst (ties stay out).
        if len(finished) < beams or h[0] > finished[-1][0]:
            finished.append(h)
            finished.sort(key=lambda x: -x[0])  # stable: an equal score keeps the earlier first
            del finished[beams:]

    done = False
    for step in range(max_new_tokens):
        length = step + 1
        rows = torch.stack([logits_of(prompt + tokens) for tokens, _ in live])
        scores = torch.log_softmax(rows.to(torch.float64), dim=-1)
        scores += torch.tensor([s for _, s in live], dtype=torch.float64)[:, None]
        flat = scores.reshape(-1)
        k = min((1 + len(end_tokens)) * beams, flat.numel())
        order = torch.sort(flat, descending=True, stable=True).indices[:k]  # ties: lower beam, token
        vocab = rows.shape[1]
        next_live = []
        for rank, index in enumerate(order.tolist()):
            beam, token = divmod(index, vocab)
            total = flat[index].item()
            tokens = live[beam][0]
            if token in end_tokens:
                if rank < beams:
                    keep((total / length ** length_penalty, tokens, True))
                continue
            next_live.append((tokens + [token], total))
            if len(next_live) == beams:
                break
        best_now = flat[order[0]].item()
        if len(finished) == beams and finished[-1][0] >= best_now / length ** length_penalty:
            done = True
        if not next_live:
            done = True
        if done:
            break
        live = next_live
    if not done:
        for tokens, total in live:
            if tokens:
                keep((total / len(tokens) ** length_penalty, tokens, False))
    return finished


def lumen_stats(stderr):
    """The best hypothesis's score and the beam tokens run, from what lumen prints on stderr after
    a beam search ("best of B beams scores S | N beam tokens")."""
    found = re.search(r"scores (-?[0-9.]+) \| ([0-9]+) beam tokens", stderr)
    return float(found.group(1)), int(found.group(2))
