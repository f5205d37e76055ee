#!/usr/bin/env python3
"""Tables of tools/promise_check.sh: one row per search (MODEL.VARIANT.SPLIT folders holding report.json) and, per
variant, how many of its settings lost more than --max-drop on the test split. Markdown on stdout; --tsv FILE also
writes the rows as tab-separated values."""
import argparse, json, os, statistics

ap = argparse.ArgumentParser()
ap.add_argument("folder")
ap.add_argument("--max-drop", type=float, default=1.5)
ap.add_argument("--tsv")
a = ap.parse_args()

rows = []
for name in sorted(os.listdir(a.folder)):
    path = os.path.join(a.folder, name, "report.json")
    if name.count(".") != 2 or not os.path.isfile(path):
        continue
    model, variant, split = name.split(".")
    r = json.load(open(path))
    rows.append(dict(model=model, variant=variant, split=split, saving=100 * r["memory_saving"],
                     search_images=r["search_images"], confirm_images=r["confirm_images"],
                     drop_search=r["accuracy_drop_search"], se_search=r["drop_standard_error_search"],
                     drop_confirm=r.get("accuracy_drop_confirm"), test_images=r["test_images"],
                     drop_test=r["accuracy_drop_test"], se_test=r.get("drop_standard_error_test"),
                     seconds=r["search_seconds"], full=r["full_evaluations"]))

def f(x, fmt="{:.2f}"):
    return "–" if x is None else fmt.format(x)

order = ["greedy", "greedy-confirm", "greedy-confirm-4000", "default", "beam", "beam-confirm-4000", "beam-default", "greedy-500", "greedy-500-confirm", "greedy-500-confirm-2000"]
variants = sorted({r["variant"] for r in rows}, key=lambda v: (order.index(v) if v in order else 99, v))
print(f"# The accuracy promise on unseen images\n")
print(f"Budget {a.max_drop} points. A search is **over budget** when its setting's drop on the whole test split "
      f"(never seen by the search) exceeds the budget.\n")
print("| variant | searches | over budget | test drop: mean | max | memory saving: mean | min | search seconds: mean |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for v in variants:
    rs = [r for r in rows if r["variant"] == v]
    over = sum(r["drop_test"] > a.max_drop for r in rs)
    print(f"| {v} | {len(rs)} | {over} ({100 * over / len(rs):.0f}%) | {statistics.mean(r['drop_test'] for r in rs):.2f} | "
          f"{max(r['drop_test'] for r in rs):.2f} | {statistics.mean(r['saving'] for r in rs):.2f}% | "
          f"{min(r['saving'] for r in rs):.2f}% | {statistics.mean(r['seconds'] for r in rs):.1f} |")
print("\n| model | variant | split | memory saving | search images (+ confirm) | drop, search split (± SE) | drop, confirmation pooled | drop, test split (± SE) | full evaluations | search seconds |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for r in sorted(rows, key=lambda r: (r["model"], variants.index(r["variant"]), r["split"])):
    mark = " **over**" if r["drop_test"] > a.max_drop else ""
    print(f"| {r['model']} | {r['variant']} | {r['split']} | {r['saving']:.2f}% | {r['search_images']} (+{r['confirm_images']}) | "
          f"{r['drop_search']:.2f} ± {r['se_search']:.2f} | {f(r['drop_confirm'])} | {r['drop_test']:.2f} ± {f(r['se_test'])}{mark} | "
          f"{r['full']} | {r['seconds']:.1f} |")
if a.tsv:
    with open(a.tsv, "w") as out:
        keys = list(rows[0].keys()) if rows else []
        out.write("\t".join(keys) + "\n")
        for r in rows:
            out.write("\t".join(str(r[k]) for k in keys) + "\n")
