#!/usr/bin/env bash
# On the device machine (torch 2.11, onnx, onnxruntime; no network): brief training of the four upstream SViTs on
# SpikingJelly 0.0.0.0.12's neurons, then fixtures for every SpikingJelly version x neuron form x exporter.
# Carry: .data/upstream/{sj12,sj14,sjhead,spikformer,sdt,qkformer,sdtv2} (checkouts: git archive of the upstream
# repositories) and .data/train-*-ubyte.gz. Output: $OUT/upstream/<name>/, $OUT/ckpt/, $OUT/*.log.
set -u
U=.data/upstream
TRAIN=${TRAIN:-150}  # seconds per model; 0: export from the carried .data/ckpt
CK=${CK:-.data/ckpt}  # carried back in: TRAIN=0 exports from the state dicts of an earlier run
REPOS="--spikformer $U/spikformer --sdt $U/sdt --qkformer $U/qkformer --sdtv2 $U/sdtv2"
PY="python3 tools/upstream_fixtures.py"
export OMP_NUM_THREADS=1
python3 -c "import torch, onnx, onnxruntime; print(torch.__version__, onnx.__version__, onnxruntime.__version__, torch.cuda.get_device_name(0))"
if [ "$TRAIN" != 0 ]; then
  for a in spikformer sdt qkformer sdtv2; do
    $PY --sj $U/sj12 --sj-label 012 $REPOS --archs $a --train "$TRAIN" --ckpt-dir "$CK" --data .data --out /tmp/none > "$OUT/train-$a.log" 2>&1 &
  done
  $PY --sj $U/sj12 --sj-label 012 $REPOS --archs spikformer --neuron plif --train "$TRAIN" --ckpt-dir "$CK" --data .data --out /tmp/none > "$OUT/train-spikformer-plif.log" 2>&1 &
  wait
  grep -h "trained" "$OUT"/train-*.log
fi
for sj in ${SJS:-012 014 head}; do
  d=$U/sj${sj/012/12}; d=${d/sj014/sj14}
  for a in spikformer sdt qkformer sdtv2; do
    $PY --sj $d --sj-label $sj $REPOS --archs $a --ckpt-dir "$CK" --out "$OUT/upstream" > "$OUT/export-$sj-$a.log" 2>&1 &
  done
  for n in plif soft; do
    $PY --sj $d --sj-label $sj $REPOS --archs spikformer --neuron $n --ckpt-dir "$CK" --out "$OUT/upstream" > "$OUT/export-$sj-$n.log" 2>&1 &
  done
done
wait
grep -h "nodes, LIF\|failed" "$OUT"/export-*.log
mkdir -p "$OUT/ckpt" && cp "$CK"/* "$OUT/ckpt/" 2>/dev/null
# At most 8 files of 16 MiB come back: the fixtures travel as pieces of one archive (cat upstream.tgz.* | tar -xz).
tar -czf - -C "$OUT" upstream | split -b 15m - "$OUT/upstream.tgz." && rm -rf "$OUT/upstream"
tar -czf "$OUT/ckpt.tgz" -C "$OUT" ckpt && rm -rf "$OUT/ckpt"
cat "$OUT"/train-*.log "$OUT"/export-*.log > "$OUT/all.log"; rm -f "$OUT"/train-*.log "$OUT"/export-*.log
ls -la "$OUT"
