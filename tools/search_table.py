#!/usr/bin/env python3
"""The strategy table of benchmarks/search.md from `aq4svit search` outputs: one row per job folder holding report.json
(the folders tools/bench_search.sh writes, or any --out folders), in the order given (a folder of job folders is read in
name order). Markdown on stdout.

    python3 tools/search_table.py bench/2026-11-28-confirm
    python3 tools/search_table.py out/spk-greedy out/spk-beam"""
import argparse, json, os

ap = argparse.ArgumentParser()
ap.add_argument("folders", nargs="+", help="search --out folders, or folders of them")
a = ap.parse_args()

reports = []
for folder in a.folders:
    if os.path.isfile(os.path.join(folder, "report.json")):
        reports.append(os.path.join(folder, "report.json"))
    else:
        reports += [os.path.join(folder, n, "report.json") for n in sorted(os.listdir(folder))
                    if os.path.isfile(os.path.join(folder, n, "report.json"))]
if not reports:
    raise SystemExit(f"search_table: no report.json in {' '.join(a.folders)}")


def model_name(path):
    # "models/NAME/model.onnx" -> NAME; any other file -> its name without .onnx
    folder, file = os.path.split(path)
    return os.path.basename(folder) if file == "model.onnx" else file.removesuffix(".onnx")


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
