#!/usr/bin/env python3
"""The CUDA table of benchmarks/imagenet-scale-gpu.md from the files `STEP=run bash tools/cuda_check.sh` leaves in its
OUT folder: eval-{cuda,cpu}.json, search-{cuda,cpu}-report.json and validate-{cuda,cpu}.json (a missing pair leaves
its rows out). Markdown on stdout.

    python3 tools/cuda_table.py bench/2026-11-27/cuda"""
import json, os, sys

if len(sys.argv) != 2:
    raise SystemExit("usage: cuda_table.py OUT")
out = sys.argv[1]


def pair(name):
    paths = [os.path.join(out, name.format(dev)) for dev in ("cuda", "cpu")]
    return [json.load(open(p)) for p in paths] if all(os.path.isfile(p) for p in paths) else None


def right(e):
    return f"{100 * e['accuracy']:.2f}% ({round(e['accuracy'] * e['images']):,} right)"


print("| check | `--device cuda` | `--device cpu` |")
print("| --- | --- | --- |")
if ev := pair("eval-{}.json"):
    print(f"| `eval --engine ort --split all` ({ev[0]['images']:,} images) "
          + "".join(f"| {right(e)}, {e['images_per_second']:,.0f} images/s " for e in ev) + "|")
if se := pair("search-{}-report.json"):
    print(f"| `search --granularity block --search-limit {se[0]['search_images']} --test-limit {se[0]['test_images']}` "
          f"(greedy; full evaluations: {se[0].get('full_evaluation_engine', '?')} vs {se[1].get('full_evaluation_engine', '?')}) "
          + "".join(f"| {r['search_seconds']:.1f} s, {r['full_evaluations']} full evaluations " for r in se) + "|")
    same = se[0]["bits"] == se[1]["bits"]
    print("| chosen setting "
          f"| {100 * se[0]['memory_saving']:.1f}% saving, drop {se[0]['accuracy_drop_search']:.2f} ± "
          f"{se[0]['drop_standard_error_search']:.2f} (search), {se[0]['accuracy_drop_test']:.2f} (test) "
          + (f"| same bits, {100 * se[1]['memory_saving']:.1f}% saving, drop {se[1]['accuracy_drop_test']:.2f} (test) |" if same
             else f"| different bits: {100 * se[1]['memory_saving']:.1f}% saving, drop {se[1]['accuracy_drop_test']:.2f} (test) |"))
if va := pair("validate-{}.json"):
    print(f"| `validate` of the cuda search's `quantized.onnx` ({va[0]['images']:,} test images) "
          + "".join(f"| {100 * v['ort_accuracy']:.2f}%, argmax agreement with the simulator {v.get('argmax_agreement', '–')}, "
                    f"max \\|logit diff\\| {v.get('max_abs_logit_diff', float('nan')):.3g} " for v in va) + "|")
