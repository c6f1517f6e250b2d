"""Command-line arguments every oracle test takes (see tests/CMakeLists.txt)."""
import argparse
import os


def parse(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--lumen", required=True, help="the lumen binary")
    ap.add_argument("--source", required=True, help="the source tree")
    ap.add_argument("--work", required=True, help="a scratch directory")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    return a
