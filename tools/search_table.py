#!/usr/bin/env python3
"""The strategy table of benchmarks/search.md from `aq4svit search` outputs: one row per job folder holding report.json
(the folders tools/bench_search.sh writes, or any --out folders), in the order given (a folder of job folders is read in
name order). Markdown on stdout.

    python3 tools/search_table.py bench/2026-11-28-confirm
    python3 tools/search_table.py out/spk-greedy out/spk-beam"""
import argparse, json, os
from report_files import find, model_name

ap = argparse.ArgumentParser()
ap.add_argument("folders", nargs="+", help="search --out folders, or folders of them")
a = ap.parse_args()

# a search --out folder is its report.json; any other folder, the report.json of each folder in it
reports = find([os.path.join(f, "report.json") if os.path.isfile(os.path.join(f, "report.json")) else f for f in a.folders],
               "*/report.json", "search_table")


def strategy(r):
    s = r["strategy"]
    if s == "beam":
        s = f"beam (K = {r['beam_width']})"
    return s + (", confirmed" if r.get("confirm_images") else "")


print("| model | strategy | memory saving | drop, search split (± SE) | drop, test split | search seconds "
      "| full evaluations | drift proxies | gated out | Spearman(drift, drop) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for path in reports:
    r = json.load(open(path))
    rho = r.get("proxy_spearman")
    print(f"| {model_name(r['model'])} | {strategy(r)} | {100 * r['memory_saving']:.2f}% "
          f"| {r['accuracy_drop_search']:.2f} ± {r['drop_standard_error_search']:.2f} | {r['accuracy_drop_test']:.2f} "
          f"| {r['search_seconds']:.1f} | {r['full_evaluations']} | {r['proxy_evaluations']} | {r['gated_out']} "
          f"| {'–' if rho is None else f'{rho:.2f}'} |")
