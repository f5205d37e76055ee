#!/bin/bash
# ONNX Runtime's CUDA provider on the device machine (issue 8). Its library is larger than one call may carry, so it
# travels in pieces over several calls to the same warm machine, staged in /tmp/stage:
#   STEP=pub   (carry .bench/pub.txz)          unpacks the self-contained aq4svit
#   STEP=chunk CHUNK=chunk.NN (carry it)       appends one piece of cuda.tar.xz (made by `split -b 33m`)
#   STEP=run                                   unpacks the provider beside libonnxruntime.so and runs the checks:
#     eval in ONNX Runtime on cuda and on cpu (same images), greedy searches whose full evaluations run on cuda
#     (ONNX Runtime) and on cpu (our simulator), and validate of the cuda search's model on both devices; then the
#     Markdown table of benchmarks/imagenet-scale-gpu.md (tools/cuda_table.py) into $OUT/cuda.md and on stdout.
set -u
S=/tmp/stage; mkdir -p $S
case "${STEP:-run}" in
pub)   rm -rf $S/pub && tar xJf .bench/pub.txz -C $S && ls $S/pub | wc -l ;;
chunk) cat .bench/cuda/$CHUNK >> $S/cuda.tar.xz && ls -la $S ;;   # CHUNK=chunk.NN, in order
run)
  nvidia-smi -L
  tar xJf $S/cuda.tar.xz -C $S/pub || exit 1
  for d in /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu \
           $(python3 -c 'import nvidia,os;print(" ".join(os.path.join(p,q,"lib") for p in nvidia.__path__ for q in os.listdir(p)))' 2>/dev/null); do
    [ -d "$d" ] && LD=${LD:+$LD:}$d
  done
  export LD_LIBRARY_PATH=$LD
  echo "missing libraries:"; ldd $S/pub/libonnxruntime_providers_cuda.so | grep "not found" || echo "  none"
  AQ=$S/pub/aq4svit; M=models/spikformer-fmnist/model.onnx
  for dev in cuda cpu; do
    /usr/bin/time -f "$dev wall %e s, peak %M KB" $AQ eval $M --engine ort --device $dev --split all --threads 8 --batch 100 --json > $OUT/eval-$dev.json 2> $OUT/eval-$dev.err
    echo "eval $dev rc=$?: $(cat $OUT/eval-$dev.json | head -c 400)"; tail -n 2 $OUT/eval-$dev.err
  done
  for dev in cuda cpu; do   # the search's full evaluations: ONNX Runtime on the GPU, or our simulator
    /usr/bin/time -f "search $dev wall %e s" $AQ search $M --device $dev --granularity block --threads 8 --search-limit 2000 --test-limit 2000 --out /tmp/search-$dev --quiet > $OUT/search-$dev.txt 2> $OUT/search-$dev.err
    echo "search $dev rc=$?"; head -n 4 $OUT/search-$dev.txt; grep -v "W:onnxruntime" $OUT/search-$dev.err | tail -n 2
    cp /tmp/search-$dev/report.json $OUT/search-$dev-report.json
  done
  cmp -s /tmp/search-cuda/setting.json /tmp/search-cpu/setting.json && echo "same setting.json" || echo "settings differ"
  for dev in cuda cpu; do
    $AQ validate /tmp/search-cuda/quantized.onnx --reference $M --device $dev --json > $OUT/validate-$dev.json 2> $OUT/validate-$dev.err
    echo "validate $dev rc=$?: $(python3 -c "import json;d=json.load(open('$OUT/validate-$dev.json'));print({k:d[k] for k in d if k not in ('model','reference')})")"
  done
  python3 "$(dirname "$0")/cuda_table.py" $OUT > $OUT/cuda.md && cat $OUT/cuda.md   # the table of benchmarks/imagenet-scale-gpu.md
  ;;
esac
