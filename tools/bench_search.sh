#!/bin/bash
# Benchmarks side by side on one machine (issues 4 and 6), e.g. on the device machine's CPU cores:
#  1. `aq4svit bench` (simulator vs ONNX Runtime, 2 threads, batch 100) on each bundled model, one at a time;
#  2. the search strategies on the bundled models, THREADS threads per job (default 2), all jobs at once, so
#     every strategy gets the same cores (machine with at least 8 × THREADS cores); with SEQUENTIAL=1 one job after
#     the other instead, each alone on the machine (fairer for time ratios: at once, the short jobs run while the
#     machine is fullest).
# Runs a self-contained publish of aq4svit (no .NET needed): carry .bench/pub.txz, made by
#   dotnet publish src/AQ4SViT.Cli -c Release -r linux-x64 --self-contained -o /tmp/pubw/pub
#   (cd /tmp/pubw && tar cf - pub | xz -9 > .bench/pub.txz)
# With RESUME=1 and the previous run's folders carried in .bench/state/, unfinished searches continue from state.json.
# Usage: SEARCH_LIMIT=5000 THREADS=8 bash tools/bench_search.sh   (results: $OUT/bench.tgz; Markdown tables
#   $OUT/bench.md (tools/bench_table.py) and $OUT/search.md (tools/search_table.py), also on stdout)
# ONLY="job ..." runs just those jobs (names below); W=/tmp/other lets a second run go at the same time.
set -u
OUT=${OUT:-$PWD/bench-out}
LIMIT=${SEARCH_LIMIT:-1000}
BUDGET=${JOB_SECONDS:-480}
T=${THREADS:-2}
W=${W:-/tmp/bench}; rm -rf $W; mkdir -p $W $OUT   # W: work folder (two runs at once need two)
tar xJf .bench/pub.txz -C $W
AQ=$W/pub/aq4svit
nproc; lscpu | grep -m1 "Model name"
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  for m in spikformer-fmnist spikformer-fmnist-dynamo sdt-fmnist; do
    $AQ bench models/$m/model.onnx --threads 2 --batch 100 --json > $W/bench-$m.json 2> $W/bench-$m.err
    cp $W/bench-$m.json $OUT/
    echo "bench $m rc=$? $(cat $W/bench-$m.json)"
  done
fi
RESUME_FLAG=""
if [ "${RESUME:-0}" = 1 ]; then cp -r .bench/state/* $W/; RESUME_FLAG="--resume"; fi
run() { # name model strategy threads [extra...]; ONLY="name ..." runs just those (in ONLY's order with SEQUENTIAL=1)
  local name=$1 model=$2 strategy=$3 threads=$4; shift 4
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  if [ -f $W/$name/report.json ]; then echo "$name done before"; return; fi
  local limit=$LIMIT; [[ $name == *-5k ]] && limit=5000; [[ $name == *-2k ]] && limit=2000
  local job=( timeout -s INT $BUDGET $AQ search models/$model/model.onnx --strategy $strategy --search-limit $limit --test-limit 0
      --threads $threads --out $W/$name $RESUME_FLAG "$@" )
  if [ "${SEQUENTIAL:-0}" = 1 ]; then JOBS[$name]="${job[*]@Q}"; return; fi
  ( "${job[@]}" > $W/$name.txt 2> $W/$name.err; echo "$name rc=$?" ) &
}
declare -A JOBS
run spk-greedy spikformer-fmnist greedy $T --granularity block
run spk-greedy-m10 spikformer-fmnist greedy $T --gate-margin 1.0 --granularity block
run spk-beam spikformer-fmnist beam $T --granularity block
run spk-sensitivity spikformer-fmnist sensitivity $T --granularity block
run sdt-greedy sdt-fmnist greedy $T --granularity block
run sdt-greedy-m10 sdt-fmnist greedy $T --gate-margin 1.0 --granularity block
run sdt-beam sdt-fmnist beam $T --granularity block
run sdt-sensitivity sdt-fmnist sensitivity $T --granularity block
run spk-greedy-d12 spikformer-fmnist greedy $T --max-drop 1.2 --granularity block
run sdt-greedy-d12 sdt-fmnist greedy $T --max-drop 1.2 --granularity block
run spk-greedy-5k spikformer-fmnist greedy $T --granularity block
run sdt-greedy-5k sdt-fmnist greedy $T --granularity block
for m in spk:spikformer-fmnist sdt:sdt-fmnist; do   # layer granularity: every weight tensor its own group
  for s in greedy beam sensitivity; do run ${m%%:*}-$s-layer ${m#*:} $s $T --granularity layer; done
done
for m in spk:spikformer-fmnist sdt:sdt-fmnist; do   # --jobs 4: four evaluations at once, each with a quarter of the threads
  for s in greedy beam; do run ${m%%:*}-$s-layer-j4 ${m#*:} $s $(( T / 4 > 0 ? T / 4 : 1 )) --granularity layer --jobs 4; done
done
for m in spk:spikformer-fmnist sdt:sdt-fmnist; do   # repeats in the same call, to bracket the others
  run ${m%%:*}-greedy-layer-r2 ${m#*:} greedy $T --granularity layer
  run ${m%%:*}-beam-layer-r2 ${m#*:} beam $T --granularity layer
  run ${m%%:*}-greedy-layer-r3 ${m#*:} greedy $T --granularity layer
done
run spk-greedy-layer-5k spikformer-fmnist greedy $T --granularity layer
for m in spk:spikformer-fmnist sdt:sdt-fmnist; do run ${m%%:*}-beam-layer-2k ${m#*:} beam $T --granularity layer; done
wait
if [ "${SEQUENTIAL:-0}" = 1 ]; then
  for name in ${ONLY:-${!JOBS[@]}}; do
    [ -n "${JOBS[$name]:-}" ] || continue
    eval "${JOBS[$name]}" > $W/$name.txt 2> $W/$name.err; echo "$name rc=$? $(date +%T)"
  done
fi
for d in $W/*/; do rm -f $d/*.onnx $d/*.onnx.data; done
(cd $W && tar czf $OUT/bench.tgz --exclude=pub .)
# The Markdown tables of benchmarks/simulator-speed.md and benchmarks/search.md, into $OUT and on stdout.
if [ "${SKIP_BENCH:-0}" != 1 ]; then python3 "$(dirname "$0")/bench_table.py" $OUT > $OUT/bench.md && cat $OUT/bench.md; fi
python3 "$(dirname "$0")/search_table.py" $W > $OUT/search.md && cat $OUT/search.md
