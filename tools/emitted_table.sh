#!/bin/bash
# The table of benchmarks/emitted-models.md: every quantizable weight at the same width (a network setting, 8 and 4
# bits), written by `aq4svit apply` as QDQ (8 and 4 bits) and fake-quant (4 bits), then `aq4svit validate --reference`
# on the first LIMIT images of the test split (ONNX Runtime, exact dequantization). File sizes include the .data file.
# Usage: LIMIT=1000 THREADS=2 bash tools/emitted_table.sh [MODEL...]   (default: the three bundled models)
#   AQ="path/to/aq4svit" to run a publish instead of the Release build; W=DIR for the work folder (default /tmp/emitted).
#   Markdown table on stdout; the apply/validate JSON of each file stays in W.
set -eu
AQ=${AQ:-"dotnet src/AQ4SViT.Cli/bin/Release/net10.0/aq4svit.dll"}
LIMIT=${LIMIT:-1000}
THREADS=${THREADS:-2}
W=${W:-/tmp/emitted}
MODELS=("$@"); [ ${#MODELS[@]} -gt 0 ] || MODELS=(spikformer-fmnist spikformer-fmnist-dynamo sdt-fmnist)
rm -rf "$W"; mkdir -p "$W"
for m in "${MODELS[@]}"; do
  mkdir -p "$W/$m"
  for bits in 8 4; do
    echo "{ \"granularity\": \"network\", \"bits\": { \"network\": $bits } }" > "$W/$m/setting-$bits.json"
    $AQ apply "models/$m/model.onnx" --setting "$W/$m/setting-$bits.json" --out "$W/$m/qdq-$bits.onnx" --json > "$W/$m/qdq-$bits.apply.json"
    $AQ validate "$W/$m/qdq-$bits.onnx" --reference "models/$m/model.onnx" --limit "$LIMIT" --threads "$THREADS" --quiet --json \
      > "$W/$m/qdq-$bits.validate.json"
  done
  $AQ apply "models/$m/model.onnx" --setting "$W/$m/setting-4.json" --out "$W/$m/fakequant-4.onnx" --format fakequant --json \
    > "$W/$m/fakequant-4.apply.json"
  echo "emitted_table: $m done" >&2
done
python3 - "$W" "${MODELS[@]}" <<'PY'
import json, sys
w, models = sys.argv[1], sys.argv[2:]
def read(m, name): return json.load(open(f"{w}/{m}/{name}.json"))
def pct(x): return f"{100 * x:.1f}%"
print("| model | float file | QDQ 8-bit | QDQ 4-bit | fake-quant | float top-1 | 8-bit top-1 | 4-bit top-1 |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for m in models:
    a8, a4, fq = read(m, "qdq-8.apply"), read(m, "qdq-4.apply"), read(m, "fakequant-4.apply")
    v8, v4 = read(m, "qdq-8.validate"), read(m, "qdq-4.validate")
    print(f"| {m} | {a8['source_file_bytes']:,} | {a8['onnx_file_bytes']:,} | {a4['onnx_file_bytes']:,} | {fq['onnx_file_bytes']:,} "
          f"| {pct(v8['fp_ort_accuracy'])} | {pct(v8['ort_accuracy'])} | {pct(v4['ort_accuracy'])} |")
print(f"\nONNX Runtime top-1 on the first {v8['images']} images of the test split; bytes on disk, .data file included.")
PY
