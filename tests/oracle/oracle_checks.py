"""What the PyTorch oracle tests share: running lumen, the relative error they hold its numbers
to, and the tally of named checks that decides the test's exit status."""
import subprocess

import numpy as np


def run(cmd):
    """lumen's stdout; a failure raises with its stderr. Random weights generate arbitrary bytes,
    so the output is decoded leniently."""
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode(errors="replace")


def rel_err(ours, ref):
    """max |ours - ref| / max |ref|; infinite when the shapes differ."""
    return float(np.abs(ours - ref).max() / np.abs(ref).max()) if ours.shape == ref.shape else float("inf")


class Checks:
    """check(name, ok, what) prints and records one check; status() is the exit status: 1 when any
    failed or none ran."""

    def __init__(self):
        self.results = []

    def __call__(self, name, ok, what):
        print(f"{'ok' if ok else 'FAIL'}: {name}: {what}", flush=True)
        self.results.append(ok)

    def status(self):
        failed = self.results.count(False)
        print(f"{len(self.results) - failed} passed, {failed} failed")
        return 1 if failed or not self.results else 0
