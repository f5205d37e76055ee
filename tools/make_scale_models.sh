#!/usr/bin/env bash
# ImageNet-size random-weight SViTs (224x224x3, 1000 classes) and a 224x224 evaluation set, for the scale checks
# and the cost table in benchmarks/imagenet-scale-gpu.md. Generated, never committed: everything goes under OUT (default .data/scale, ignored).
#
#   bash tools/make_scale_models.sh                 # Spikformer-8-768, SDT-8-768 (external data), the size grid
#   GRID="" bash tools/make_scale_models.sh         # only the two 8-768 models and the data
#   GRID="192x2 768x8" OUT=/tmp/scale bash tools/make_scale_models.sh
#
# Needs /usr/bin/python3 with torch (1.13 or 2.x) and onnx; ~1.5 GB of disk with the grid. Slow on a small CPU: on 2 shared
# cores the TorchScript export of each 8-768 model took about 25 minutes, the whole set about 75.
# Folders: OUT/fmnist224 (20 Fashion-MNIST test images enlarged 8x, MNIST layout), OUT/spikformer-8-768 (TorchScript,
# weights inside model.onnx), OUT/sdt-8-768 (TorchScript, weights in model.onnx.data), OUT/spikformer-<D>-<L> (grid).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.data/scale}
PY=${PY:-/usr/bin/python3}
GRID=${GRID-"192x2 192x4 192x8 384x8 512x8 768x2 768x4"}
mkdir -p "$OUT"

heads_for() { case $1 in 512) echo 8 ;; *) echo 12 ;; esac; }

export_one() { # ARCH DIM DEPTH NAME [extra export.py args]
  local arch=$1 dim=$2 depth=$3 name=$4; shift 4
  if [[ -f "$OUT/$name/model.onnx" ]]; then echo "have $OUT/$name"; return; fi
  "$PY" tools/export.py --random --imagenet --arch "$arch" --dim "$dim" --depth "$depth" --heads "$(heads_for "$dim")" \
    --exporter torchscript --name "$name" --out-root "$OUT" --check-images 2 "$@"
}

[[ -f "$OUT/fmnist224/t10k-images-idx3-ubyte.gz" ]] || "$PY" tools/upscale_idx.py --count 20 --factor 8 --out "$OUT/fmnist224"
export_one spikformer 768 8 spikformer-8-768
export_one sdt 768 8 sdt-8-768 --external-data
for size in $GRID; do
  dim=${size%x*}; depth=${size#*x}
  export_one spikformer "$dim" "$depth" "spikformer-$depth-$dim"
done
ls -l "$OUT"/*/model.onnx*
