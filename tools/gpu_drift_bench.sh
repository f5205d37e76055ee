#!/bin/bash
# Issue 23, points 3-5: the drift proxy, a full evaluation and a whole greedy search on one GPU (ONNX Runtime, CUDA) and
# with our simulator on the machine's CPU cores, side by side, for a 224x224 Spikformer and SDT of at least 16 M
# parameters, briefly trained so they fire like trained models; two devices named cuda:0,cuda:0 against a serial run;
# a batch that does not fit. Writes $OUT/gpu-drift-bench.md (the table) and $OUT/bench.tsv (raw numbers).
#
# Runs on the device machine (no .NET): the self-contained GPU publish (.bench/pub.txz, made as for tools/cuda_check.sh)
# and ONNX Runtime's CUDA provider (.bench/cuda/part.NN: `tar cJ libonnxruntime_providers_cuda.so | split -b 47m`) travel
# over consecutive calls to the same warm machine; the models train in the background meanwhile:
#   STEP=start  (carry .bench: pub.txz and the first part)  unpacks, starts training both models (TRAIN_SECONDS each on
#                                                           the GPU, then TorchScript export) in the background
#   STEP=chunk  (carry .bench: the next part)               appends it
#   STEP=go     MODELS=spk (then MODELS=sdt)                unpacks the provider, waits for the models; a full evaluation of
#                                                           10,000 images (SKIP_EVAL=1: none) and a greedy search, both on
#                                                           cuda
#   STEP=cpu    MODELS="spk sdt"                            the simulator on THREADS cores: one proxy (bench, CALIB_SIM
#                                                           images) and a full evaluation of SIM_IMAGES images, projected
#                                                           linearly (to 128 and 10,000 images); an evaluation at a
#                                                           batch too large for the GPU (the message); then the table
#   STEP=pair                                               on the bundled model: a search on cuda and the same search on
#                                                           cuda:0,cuda:0 with --jobs 2 (same setting and log?)
#   STEP=table                                              the Markdown table, into $OUT
set -u
S=/tmp/stage; B=$S/bench; mkdir -p "$B"
THREADS=${THREADS:-16}; TRAIN_SECONDS=${TRAIN_SECONDS:-100}; HEADS=${HEADS:-8}
SPK_SHAPE=${SPK_SHAPE:-768-8}; SDT_SHAPE=${SDT_SHAPE:-512-8}   # DIM-DEPTH: 66 M and 25 M parameters at 224x224x1
SEARCH_LIMIT=${SEARCH_LIMIT:-1000}; SEARCH_TIME=${SEARCH_TIME:-300}; MAX_DROP=${MAX_DROP:-3}; CALIB_SIM=${CALIB_SIM:-2}; SIM_IMAGES=${SIM_IMAGES:-8}
BATCH=${BATCH:-32}; MODELS=${MODELS:-spk sdt}
AQ=$S/pub/aq4svit; DATA=$B/fmnist224; TSV=$B/bench.tsv; R=$S/repo
name_of() { [ "$1" = spk ] && echo spikformer-224-$SPK_SHAPE || echo sdt-224-$SDT_SHAPE; }

cuda_env() { # the CUDA 13 / cuDNN 9 libraries the provider links against, wherever the machine has them
  local LD=""
  for d in /usr/local/cuda-13*/targets/x86_64-linux/lib /usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu \
           $(python3 -c 'import nvidia,os;print(" ".join(os.path.join(p,q,"lib") for p in nvidia.__path__ for q in os.listdir(p)))' 2>/dev/null); do
    [ -d "$d" ] && LD=${LD:+$LD:}$d
  done
  export LD_LIBRARY_PATH=$LD
}
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$TSV"; }   # MODEL KEY VALUE
timed() { # KEY command... : wall seconds and peak host RSS of one command, peak GPU memory sampled meanwhile
  local key=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$B/$MODEL.$key.gpu" 2>/dev/null & local smi=$!
  /usr/bin/time -f "%e %M" -o "$B/$MODEL.$key.time" "$@" > "$B/$MODEL.$key.out" 2> "$B/$MODEL.$key.err"
  local rc=$?
  kill $smi 2>/dev/null
  read -r secs kb < <(tail -n 1 "$B/$MODEL.$key.time")   # a failed command's first line is "Command exited with …"
  row "$MODEL" "$key.seconds" "$secs"; row "$MODEL" "$key.host_mb" "$((kb / 1024))"
  row "$MODEL" "$key.gpu_mb" "$(sort -n "$B/$MODEL.$key.gpu" 2>/dev/null | tail -1)"
  [ $rc -eq 0 ] || { row "$MODEL" "$key.failed" "$rc"; echo "$key failed (exit $rc):"; grep -v "W:onnxruntime" "$B/$MODEL.$key.err" | tail -3; }
  return $rc
}
json() { python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print(d.get(sys.argv[2]))" "$1" "$2"; }

case "${STEP:-table}" in
start)
  rm -rf $S/pub "$S/cuda.tar.xz" && tar xJf .bench/pub.txz -C $S && cat .bench/cuda/part.00 >> "$S/cuda.tar.xz" || exit 1
  rm -rf $R && mkdir -p $R/models && cp -r tools $R/ && cp -r models/datasets $R/models/ && rm -f $B/models.done
  (cd $R && STEP=models setsid nohup bash tools/gpu_drift_bench.sh > $B/models.log 2>&1 < /dev/null &)
  sleep 20; cat $B/models.log; ls -la $S ;;
chunk) cat .bench/cuda/$CHUNK >> "$S/cuda.tar.xz" && ls -la $S && tail -n 3 $B/models.log ;;   # CHUNK=part.NN, in order
models)
  # 10,000 test images enlarged 8x (224x224, grey; the models take one channel).
  python3 tools/upscale_idx.py --count 10000 --factor 8 --out "$DATA" || exit 1
  for m in $MODELS; do
    name=$(name_of $m); arch=${name%%-224-*}; shape=${name##*-224-}; dim=${shape%-*}; depth=${shape#*-}
    # Brief training on the GPU on test images 5,000-9,999 (this machine has no Fashion-MNIST training set): the
    # accuracies are then not a result, the firing is what matters here.
    python3 - "$arch" "$dim" "$depth" "$HEADS" "$TRAIN_SECONDS" "$B/$name-ckpt" <<'PY' || exit 1
import json, sys, time, torch, torch.nn.functional as F
sys.path.insert(0, "tools")
import svit, fmnist
arch, dim, depth, heads, seconds, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
xt, yt, used = fmnist.load("t10k")
x, y, used = xt[5000:], yt[5000:], used + " (test images 5000-9999: no training set on this machine)"
cfg = svit.make_config(arch, dim=dim, depth=depth, heads=heads, image_size=224, in_channels=1, num_classes=10, pools=4)
model = svit.build_model(cfg).cuda().train()
params = sum(p.numel() for p in model.parameters())
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
xs, ys = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
start, steps = time.time(), 0
while time.time() - start < seconds:
    i = torch.randint(0, xs.shape[0], (16,), device="cuda")
    logits = model(F.interpolate(xs[i], scale_factor=8, mode="nearest"))
    loss = F.cross_entropy(logits, ys[i])
    opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); steps += 1
model.eval()
with torch.no_grad():
    xe = F.interpolate(torch.from_numpy(xt[:256]).cuda(), scale_factor=8, mode="nearest")
    acc = float((model(xe).argmax(1).cpu() == torch.from_numpy(yt[:256].astype("int64"))).float().mean())
torch.save(model.state_dict(), out + ".pt")
# tools/export.py reads "config", "training" and "command" from the checkpoint's record.
json.dump({"config": cfg, "params": params, "top1_torch": None, "train_steps": steps, "train_seconds": seconds,
           "train_data": used, "last_loss": float(loss), "top1_first_256_test": acc,
           "training": {"epochs": 0, "seconds": seconds, "device": "cuda", "batch": 16, "lr": 5e-4, "optimizer": "AdamW",
                        "schedule": "constant", "augmentation": "none", "torch_version": torch.__version__},
           "command": "tools/gpu_drift_bench.sh STEP=models"}, open(out + ".json", "w"), indent=2)
print("%s: %d params, %d steps, last loss %.3f, top-1 on test images 0-255 %.3f, data %s" % (arch, params, steps, float(loss), acc, used), flush=True)
PY
    python3 tools/export.py --ckpt "$B/$name-ckpt" --exporter torchscript --name "$name" --out-root "$B" --check-images 2 --skip-ort-top1 || exit 1
  done
  ls -l "$B"/*/model.onnx; touch $B/models.done ;;
go|cpu)
  [ -f "$S/pub/libonnxruntime_providers_cuda.so" ] || tar xJf "$S/cuda.tar.xz" -C "$S/pub" || exit 1
  cuda_env
  [ "$STEP" = go ] && { nvidia-smi -L; ldd $S/pub/libonnxruntime_providers_cuda.so | grep "not found"; }
  for MODEL in $MODELS; do
    M=$B/$(name_of $MODEL)/model.onnx
    # All models, not this one: training beside a timed run would share the GPU with it.
    for i in $(seq 60); do [ -f "$B/models.done" ] && break; sleep 5; done; tail -n 2 $B/models.log
    [ -f "$M" ] || { echo "no $M"; continue; }
    row "$MODEL" params "$($AQ inspect "$M" --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["weight_params"])')"
    if [ "$STEP" = go ]; then
      [ -n "${SKIP_EVAL:-}" ] || timed eval-gpu timeout 150 "$AQ" eval "$M" --data "$DATA" --split all --limit 10000 --engine ort --device cuda --batch "$BATCH" --json
      timed search-gpu timeout $((SEARCH_TIME + 120)) "$AQ" search "$M" --data "$DATA" --device cuda --calib 128 --search-limit "$SEARCH_LIMIT" \
        --test-limit 1000 --confirm 1000 --max-drop "$MAX_DROP" --time-limit "$SEARCH_TIME" --batch "$BATCH" --granularity block \
        --out "$B/$MODEL-search-gpu" --force --quiet --json
      r=$B/$MODEL-search-gpu/report.json
      for k in search_seconds proxy_seconds_mean full_seconds_mean proxy_evaluations full_evaluations gated_out proxy_engine full_evaluation_engine memory_saving accuracy_drop_test stopped_early; do
        row "$MODEL" "gpu.$k" "$(json "$r" $k)"
      done
    else
      timed bench-cpu timeout 100 "$AQ" bench "$M" --data "$DATA" --threads "$THREADS" --images 8 --batch 8 --calib "$CALIB_SIM" --json
      row "$MODEL" cpu.proxy_seconds_mean "$(json "$B/$MODEL.bench-cpu.out" proxy_seconds_mean)"
      timed eval-cpu timeout 80 "$AQ" eval "$M" --data "$DATA" --split all --limit "$SIM_IMAGES" --engine sim --threads "$THREADS" --batch 8 --json
    fi
  done
  if [ "$STEP" = cpu ]; then
    # Point 5: a batch far too large for the GPU at 224x224 must end in one line naming the batch to use (exit 3).
    M=$B/$(name_of sdt)/model.onnx; [ -f "$M" ] || M=$B/$(name_of spk)/model.onnx
    timeout 120 $AQ eval "$M" --data "$DATA" --split all --limit 2048 --engine ort --device cuda --batch 2048 > $B/oom.out 2> $B/oom.err
    rc=$?; row check oom.exit "$rc"; row check oom.message "$(grep -v "W:onnxruntime" $B/oom.err | tail -n 1 | tr '\t' ' ')"
    grep -v "W:onnxruntime" $B/oom.err | tail -n 3
  fi
  cp $TSV $OUT/ 2>/dev/null; cat $TSV
  [ "$STEP" = cpu ] && STEP=table bash tools/gpu_drift_bench.sh ;;
pair)
  [ -f "$S/pub/libonnxruntime_providers_cuda.so" ] || tar xJf "$S/cuda.tar.xz" -C "$S/pub" || exit 1
  cuda_env
  # Point 3: two devices named cuda:0,cuda:0 with --jobs 2 must give the serial run's setting and log (beam: its
  # candidates are what --jobs spreads over the devices).
  common=(search models/spikformer-fmnist/model.onnx --strategy beam --beam-width 2 --bits 2,4,8 --granularity block --calib 64
          --search-limit 300 --test-limit 300 --max-drop 3 --quiet --force --json)
  MODEL=check
  timed serial timeout 150 $AQ "${common[@]}" --device cuda --out $B/serial
  timed pair timeout 150 $AQ "${common[@]}" --device cuda:0,cuda:0 --jobs 2 --out $B/pair
  for f in setting.json search.log.jsonl; do
    cmp -s $B/serial/$f $B/pair/$f && row check "same.$f" yes || row check "same.$f" no
  done
  for k in proxy_engine full_evaluation_engine proxy_seconds_mean full_seconds_mean full_evaluations proxy_evaluations memory_saving; do
    row check "serial.$k" "$(json $B/check.serial.out $k)"; row check "pair.$k" "$(json $B/check.pair.out $k)"
  done
  cat $TSV ;;
table)
  python3 - "$TSV" "$CALIB_SIM" "$SIM_IMAGES" "$SEARCH_LIMIT" "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)" > "$OUT/gpu-drift-bench.md" <<'PY'
import sys
tsv, calib_sim, sim_images, search, gpu = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
IMAGENET_SEARCH = IMAGENET_TEST = 25000   # ImageNet's 50,000 validation images in our two halves
v = {}
for line in open(tsv):
    m, k, x = line.rstrip("\n").split("\t")
    v.setdefault(m, {})[k] = x
def f(m, k):
    try: return float(v[m][k])
    except (KeyError, ValueError): return None
def s(x): return "n/a" if x is None else ("%.2f s" % x if x < 100 else "%.0f s (%.2f h)" % (x, x / 3600))
def mb(m, k): return "%s MB" % v[m].get(k, "?")
print("| model | params | what | GPU (%s, ONNX Runtime) | simulator (16 cores) | GPU peak memory | host peak |" % gpu)
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
notes = []
for m in [k for k in v if k != "check"]:
    params = "%.1f M" % (f(m, "params") / 1e6) if f(m, "params") else "?"
    gproxy, gfull = f(m, "gpu.proxy_seconds_mean"), f(m, "eval-gpu.seconds")
    cproxy = f(m, "cpu.proxy_seconds_mean"); cproxy = cproxy * 128 / calib_sim if cproxy else None
    cimg = f(m, "eval-cpu.seconds"); cfull = cimg * 10000 / sim_images if cimg else None
    gsearch, np_, nf = f(m, "gpu.search_seconds"), f(m, "gpu.proxy_evaluations"), f(m, "gpu.full_evaluations")
    gfullmean = f(m, "gpu.full_seconds_mean")
    csearch = np_ * cproxy + nf * cfull * search / 10000 if None not in (np_, nf, cproxy, cfull) else None
    print("| %s | %s | one drift proxy, 128 images | %s | %s (from %d) | | |" % (m, params, s(gproxy), s(cproxy), calib_sim))
    print("| | | full evaluation, 10,000 images (`eval`, wall) | %s | %s (from %d) | %s | %s |" % (s(gfull), s(cfull), sim_images, mb(m, "eval-gpu.gpu_mb"), mb(m, "eval-gpu.host_mb")))
    print("| | | greedy search, %d search images: %s proxies, %s full (%s gated out)%s | %s | %s (projected) | %s | %s |" % (
        search, v[m].get("gpu.proxy_evaluations"), v[m].get("gpu.full_evaluations"), v[m].get("gpu.gated_out"),
        ", **stopped at its time limit**" if v[m].get("gpu.stopped_early") == "True" else "", s(gsearch), s(csearch), mb(m, "search-gpu.gpu_mb"), mb(m, "search-gpu.host_mb")))
    if None not in (gsearch, np_, nf, gfullmean, gfull):
        # The search's full evaluations scale with the search images (each stops early on its own images as it did here),
        # the proxies do not (128 calibration images either way); the test split is one evaluation at eval's rate.
        imagenet = gsearch + nf * gfullmean * (IMAGENET_SEARCH / search - 1) + gfull * IMAGENET_TEST / 10000
        print("| | | that search projected to ImageNet (25,000 search + 25,000 test images) | %s (target 1 h: %s) | | | |" % (s(imagenet), "met" if imagenet < 3600 else "**not met**"))
    if gproxy and gfull:
        print("| | | GPU proxy / GPU full evaluation (10,000; 50,000 projected) | %.2f%%; %.2f%% | | | |" % (100 * gproxy / gfull, 100 * gproxy / (gfull * 5)))
print()
print("Engines: %s." % "; ".join("%s proxies %s, full evaluations %s" % (m, v[m].get("gpu.proxy_engine"), v[m].get("gpu.full_evaluation_engine")) for m in v if m != "check"))
if "check" in v:
    c = v["check"]
    print()
    print("Bundled `spikformer-fmnist`, beam search (width 2, block granularity, 300 search images): `--device cuda` in %s s, "
          "`--device cuda:0,cuda:0 --jobs 2` in %s s (proxies %s, full evaluations %s); the same `setting.json`: %s, the same "
          "`search.log.jsonl`: %s." % (c.get("serial.seconds"), c.get("pair.seconds"), c.get("pair.proxy_engine"),
                                        c.get("pair.full_evaluation_engine"), c.get("same.setting.json"), c.get("same.search.log.jsonl")))
    print()
    print("A batch too large for the GPU (`eval --batch 2048` at 224x224): exit %s, `%s`" % (c.get("oom.exit"), c.get("oom.message")))
PY
  cat "$OUT/gpu-drift-bench.md" ;;
esac
