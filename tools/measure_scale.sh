#!/usr/bin/env bash
# Time and peak memory (max RSS, /usr/bin/time -v) of every aq4svit verb on the ImageNet-size models that
# tools/make_scale_models.sh generated; prints a markdown table (benchmarks/imagenet-scale-gpu.md) and keeps the raw numbers in OUT/measure.tsv.
#
#   bash tools/make_scale_models.sh && bash tools/measure_scale.sh
#   MODELS="spikformer-8-768 sdt-8-768" IMAGES=2 bash tools/measure_scale.sh
#
# Each row: inspect; eval --engine sim and --engine ort on IMAGES images (batch 1); apply (every weight 8-bit, QDQ);
# validate of that QDQ file with --reference (ONNX Runtime on both files, then our simulator with the same bits) on
# IMAGES test-split images. "x w" is peak RSS over the model's fp32 weight bytes (inspect's fp32_weight_bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.data/scale}
IMAGES=${IMAGES:-1}
THREADS=${THREADS:-2}
DATA=${DATA:-$OUT/fmnist224}
BIN=${BIN:-src/AQ4SViT.Cli/bin/Release/net10.0/aq4svit.dll}
[[ -f "$BIN" ]] || dotnet build -c Release src/AQ4SViT.Cli >/dev/null
if [[ -z "${MODELS:-}" ]]; then
  MODELS=$(for d in "$OUT"/*/model.onnx; do basename "$(dirname "$d")"; done | sort -t- -k3,3n -k2,2n)
fi
WORK=$OUT/measure
mkdir -p "$WORK"
echo '{ "granularity": "network", "bits": { "network": 8 } }' > "$WORK/net8.json"
TSV=$OUT/measure.tsv
: > "$TSV"

run() { # NAME STEP command... -> appends "name step seconds maxrss_kb exit" to the TSV
  local name=$1 step=$2; shift 2
  local log=$WORK/$name.$step.time
  set +e
  /usr/bin/time -v "$@" > "$WORK/$name.$step.out" 2> "$log"
  local rc=$?
  set -e
  local secs kb
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$log")
  kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$step" "$secs" "$kb" "$rc" >> "$TSV"
  [[ $rc -eq 0 ]] || { echo "FAILED: $name $step (exit $rc), see $log" >&2; tail -3 "$log" >&2; }
}

for name in $MODELS; do
  model=$OUT/$name/model.onnx
  echo "== $name" >&2
  run "$name" inspect dotnet "$BIN" inspect "$model" --json
  run "$name" eval-sim dotnet "$BIN" eval "$model" --data "$DATA" --grey-to-rgb --limit "$IMAGES" --batch 1 --engine sim --threads "$THREADS"
  run "$name" eval-ort dotnet "$BIN" eval "$model" --data "$DATA" --grey-to-rgb --limit "$IMAGES" --batch 1 --engine ort --threads "$THREADS"
  run "$name" apply dotnet "$BIN" apply "$model" --setting "$WORK/net8.json" --out "$WORK/$name-q8/model.onnx"
  run "$name" validate dotnet "$BIN" validate "$WORK/$name-q8/model.onnx" --reference "$model" --data "$DATA" --grey-to-rgb --limit "$IMAGES" --batch 1 --threads "$THREADS"
done

/usr/bin/python3 - "$TSV" "$OUT" <<'PY'
import json, sys, os
tsv, out = sys.argv[1], sys.argv[2]
rows = {}
for line in open(tsv):
    name, step, secs, kb, rc = line.rstrip("\n").split("\t")
    rows.setdefault(name, {})[step] = (float(secs), int(kb), int(rc))
steps = ["inspect", "eval-sim", "eval-ort", "apply", "validate"]
print("| model | params | fp32 weights | files | " + " | ".join(steps) + " |")
print("| --- | ---: | ---: | --- | " + " | ".join("---:" for _ in steps) + " |")
for name, r in rows.items():
    info = json.load(open(os.path.join(out, "measure", name + ".inspect.out")))
    wbytes = info["fp32_weight_bytes"]
    folder = os.path.join(out, name)
    files = "model.onnx" + (" + .data" if os.path.exists(os.path.join(folder, "model.onnx.data")) else "")
    cells = []
    for s in steps:
        secs, kb, rc = r.get(s, (0, 0, -1))
        mb = kb * 1024 / 1e6
        cells.append("failed" if rc else "%.0f s, %.0f MB (%.2f× w)" % (secs, mb, mb * 1e6 / wbytes))
    print("| %s | %s | %.1f MB | %s | %s |" % (name, format(info["weight_params"], ","), wbytes / 1e6, files, " | ".join(cells)))
PY
