#!/usr/bin/env python3
"""The speed table of benchmarks/simulator-speed.md from `aq4svit bench --json` outputs (the bench-MODEL.json files
tools/bench_search.sh writes): one row per file, in the order given (a folder: its bench-*.json in name order).
Markdown on stdout.

    python3 tools/bench_table.py bench/2026-11-28-spike-masks/device"""
import argparse, json
from report_files import find, model_name

ap = argparse.ArgumentParser()
ap.add_argument("paths", nargs="+", help="bench --json files, or folders of bench-*.json")
a = ap.parse_args()

files = find(a.paths, "bench-*.json", "bench_table")


def pct(x):
    return "–" if x is None else f"{100 * x:.2f}%"


print("| model | images | threads | batch | ORT level | sim images/s | ORT images/s | ratio | max abs logit diff "
      "| argmax agreement | drift proxy, share of a full evaluation (mean) |")
print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for path in files:
    r = json.load(open(path))
    print(f"| {model_name(r['model'])} | {r['images']} | {r['threads']} | {r['batch']} | {r.get('ort_level', 'all')} "
          f"| {r['sim_images_per_second']:.1f} | {r['ort_images_per_second']:.1f} | {r['ratio']:.2f} "
          f"| {r['max_abs_logit_diff']:.4g} | {100 * r['argmax_agreement']:.1f}% "
          f"| {pct(r.get('proxy_share_of_full_search_split'))} |")
