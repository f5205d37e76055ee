#!/bin/bash
# Search benchmarks (issue 4): every strategy on the bundled models, side by side on one machine.
# Runs a self-contained `dotnet publish` of aq4svit (so it needs no .NET install), e.g. on the GPU device machine's
# 16 CPU cores: carry .bench/pub.txz (made by `dotnet publish src/AQ4SViT.Cli -c Release -r linux-x64 --self-contained`).
# Usage: SEARCH_LIMIT=1000 bash tools/bench_search.sh   (results: $OUT/bench.tgz and a table on stdout)
set -u
OUT=${OUT:-$PWD/bench-out}
LIMIT=${SEARCH_LIMIT:-1000}
BUDGET=${JOB_SECONDS:-560}
W=/tmp/bench; rm -rf $W; mkdir -p $W $OUT
tar xJf .bench/pub.txz -C $W
AQ=$W/pub/aq4svit
nproc; lscpu | grep -m1 "Model name"
run() { # name model strategy threads [extra...]
  local name=$1 model=$2 strategy=$3 threads=$4; shift 4
  ( timeout $BUDGET $AQ search models/$model/model.onnx --strategy $strategy --search-limit $LIMIT \
      --threads $threads --out $W/$name --quiet "$@" > $W/$name.txt 2> $W/$name.err; echo "$name rc=$?" ) &
}
run spk-greedy spikformer-fmnist greedy 2
run spk-beam spikformer-fmnist beam 3
run spk-sensitivity spikformer-fmnist sensitivity 3
run spk-ungated spikformer-fmnist greedy-ungated 2
run sdt-greedy sdt-fmnist greedy 2
run sdt-beam sdt-fmnist beam 2
run sdt-sensitivity sdt-fmnist sensitivity 2
wait
for d in $W/*/; do rm -f $d/*.onnx $d/*.onnx.data; done
(cd $W && tar czf $OUT/bench.tgz --exclude=pub --exclude='*.onnx' .)
python3 - <<'PY'
import json, glob, os
print("%-16s %8s %8s %8s %8s %7s %5s %6s %6s %6s" % ("job","saving","dropS","dropT","fpT","secs","full","proxy","gated","rho"))
for f in sorted(glob.glob("/tmp/bench/*/report.json")):
    r = json.load(open(f)); n = os.path.basename(os.path.dirname(f))
    print("%-16s %8.4f %8.2f %8.2f %8.4f %7.1f %5d %6d %6d %6s" % (n, r["memory_saving"], r["accuracy_drop_search"], r["accuracy_drop_test"], r["fp_accuracy_test"], r["search_seconds"], r["full_evaluations"], r["proxy_evaluations"], r["gated_out"], r["proxy_spearman"] and round(r["proxy_spearman"], 3)))
PY
