#!/usr/bin/env python3
"""lumen against llama.cpp on the same GGUF files, the same threads, interleaved runs.

For each repetition and each model file, runs `lumen bench` and `llama-bench` (one repetition
each, pp and tg), alternating which goes first, and prints the medians of tokens/s per test
and engine and their ratio as a Markdown table, with the machine and the load average before
and after. llama.cpp is a benchmark peer only: pass the path of a llama-bench built outside
this repository (e.g. from the npm package node-llama-cpp's source, by its own commands).

    /usr/bin/python3 bench/side_by_side.py --llama-bench /path/to/llama-bench \\
        --models DIR --types Q4_0,Q8_0,Q4_K_M,F16 --reps 5 -t 2 -p 512 -n 128
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_jsonl(cmd, env=None):
    """Runs a bench command with -o jsonl and returns {test name: tokens/s}."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    results = {}
    for line in out.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        name = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
        results[name] = r["avg_ts"]
    return results


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lumen", default=os.path.join(root, "build", "lumen"))
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--models", required=True, help="folder of tinyllama-TYPE.gguf (bench/make_tinyllama_models.sh)")
    ap.add_argument("--types", default="Q4_0,Q8_0,Q4_K_M,F16")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    args = ap.parse_args()

    llama_env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(os.path.abspath(args.llama_bench)))
    common = ["-p", str(args.n_prompt), "-n", str(args.n_gen), "-t", str(args.threads), "-r", "1", "-o", "jsonl"]
    types = args.types.split(",")
    samples = {(t, e): {} for t in types for e in ("lumen", "llama.cpp")}
    load_before = load_average()
    for rep in range(args.reps):
        for t in types:
            model = os.path.join(args.models, f"tinyllama-{t}.gguf")
            engines = [("lumen", [args.lumen, "bench", "-m", model] + common, None),
                       ("llama.cpp", [args.llama_bench, "-m", model] + common, llama_env)]
            if rep % 2:
                engines.reverse()
            for name, cmd, env in engines:
                for test, ts in run_jsonl(cmd, env).items():
                    samples[(t, name)].setdefault(test, []).append(ts)
            print(f"rep {rep + 1}/{args.reps} {t} done (load {load_average()})", file=sys.stderr)

    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown CPU")
    print(f"{cpu}, {args.threads} threads, medians of {args.reps} interleaved runs, "
          f"load average {load_before} before, {load_average()} after\n")
    tests = [f"pp{args.n_prompt}", f"tg{args.n_gen}"]
    print("| type | " + " | ".join(f"lumen {x} t/s | llama.cpp {x} t/s | ratio" for x in tests) + " |")
    print("| --- |" + " --- | --- | --- |" * len(tests))
    for t in types:
        cells = []
        for x in tests:
            ours = statistics.median(samples[(t, "lumen")][x])
            theirs = statistics.median(samples[(t, "llama.cpp")][x])
            cells += [f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}×"]
        print(f"| {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
