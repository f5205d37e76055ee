#!/bin/bash
# The one GPU command used to build the reference models (see tools/README.md).
# Run from the repo root on the device machine with the training set in .data/ and the test set in
# models/datasets/fashion-mnist/. Writes tarballs + log into $OUT (default ./device-out).
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-$PWD/device-out}
W=/tmp/w
EPOCHS=${EPOCHS:-15}
BUDGET=${BUDGET:-270}
MODELS=${MODELS:-"spikformer sdt"}   # which models to train + export
LIF=${LIF:-1}                        # 1: also export the LIF cases and the small other-size models
THREADS=${THREADS:-8}                # ORT threads per export process
rm -rf $W; mkdir -p $OUT $W/ckpt $W/models/tests $W/logs
nvidia-smi -L
python3 -c 'import sys,torch,onnx,onnxruntime,numpy; print("python",sys.version.split()[0],"torch",torch.__version__,"onnx",onnx.__version__,"ort",onnxruntime.__version__,"numpy",numpy.__version__)'
python3 -c 'import onnxscript; print("onnxscript", onnxscript.__version__)' || echo "onnxscript missing: dynamo flavour will fail"
T0=$(date +%s)
PL=
[ "$LIF" = 1 ] && { python3 tools/export_lif_cases.py --out $W/models/tests/lif-cases --threads 4 > $W/logs/lif-cases.log 2>&1 & PL=$!; }
P1=; P2=; E1=; E2=
case " $MODELS " in *" spikformer "*)
python3 tools/train.py --arch spikformer --dim 192 --depth 2 --heads 8 --time-steps 4 --epochs $EPOCHS --batch 128 --lr 1e-3 --time-budget $BUDGET --data .data --out $W/ckpt/spikformer-fmnist > $W/logs/train-spikformer.log 2>&1 &
P1=$! ;; esac
case " $MODELS " in *" sdt "*)
python3 tools/train.py --arch sdt --dim 192 --depth 2 --heads 8 --time-steps 4 --epochs $EPOCHS --batch 128 --lr 1e-3 --time-budget $BUDGET --data .data --out $W/ckpt/sdt-fmnist > $W/logs/train-sdt.log 2>&1 &
P2=$! ;; esac
[ -n "$P1" ] && { wait $P1; echo "spikformer training rc=$? at $(( $(date +%s) - T0 ))s"; }
[ -n "$P2" ] && { wait $P2; echo "sdt training rc=$? at $(( $(date +%s) - T0 ))s"; }
tail -n 4 $W/logs/train-*.log
(cd $W && tar czf $OUT/ckpt.tar.gz ckpt)
[ -n "$P1" ] && { timeout 250 python3 tools/export.py --ckpt $W/ckpt/spikformer-fmnist --exporter both --name spikformer-fmnist --dynamo-name spikformer-fmnist-dynamo --out-root $W/models --threads $THREADS > $W/logs/export-spikformer.log 2>&1 & E1=$!; }
[ -n "$P2" ] && { timeout 250 python3 tools/export.py --ckpt $W/ckpt/sdt-fmnist --exporter torchscript --name sdt-fmnist --out-root $W/models --threads $THREADS > $W/logs/export-sdt.log 2>&1 & E2=$!; }
[ -n "$E1" ] && { wait $E1; echo "export spikformer rc=$?"; }
[ -n "$E2" ] && { wait $E2; echo "export sdt rc=$?"; }
[ -n "$PL" ] && { wait $PL; echo "lif cases rc=$? at $(( $(date +%s) - T0 ))s"; }
cd $W/models
for d in spikformer-fmnist spikformer-fmnist-dynamo sdt-fmnist; do [ -d $d ] && tar czf $OUT/$d.tar.gz $d; done
[ -d tests/lif-cases ] && tar czf $OUT/tests.tar.gz tests
cd $W && tar czf $OUT/logs.tar.gz logs
grep -h -E "epoch|final|budget" $W/logs/train-*.log | tail -n 40
grep -s -h -E "ORT|top-1|wrote|FAIL|SKIP|fall|Error" $W/logs/export-*.log $W/logs/lif-cases.log | grep -v "^\[.*\] ops" | tail -n 60
ls -la $OUT
python3 - <<'PY'
import json,glob,os
print("%-26s %9s %8s %8s %-6s %9s %6s %7s" % ("model","params","torch","ort","check","maxdiff","epochs","seconds"))
for c in sorted(glob.glob("/tmp/w/models/*/card.json")+glob.glob("/tmp/w/models/tests/*/card.json")):
    d=json.load(open(c)); ck=d.get("ort_check",{}); tr=d.get("training") or {}
    print("%-26s %9d %8s %8s %-6s %9s %6s %7s" % (d["name"], d["params"], d["top1_torch"], d["top1_ort"], ck.get("passed"), "%.2g"%ck.get("max_abs_diff",-1), tr.get("epochs"), tr.get("seconds")))
PY
echo "total $(( $(date +%s) - T0 ))s"
