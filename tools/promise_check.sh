#!/bin/bash
# The accuracy promise on unseen images (issue 21, point 5): how often does the setting a search keeps lose more than
# --max-drop on the whole test split (5,000 images, never seen by the search)? Runs every VARIANT on every bundled MODEL
# and SPLIT (first = the IDX files' first half / second half; a number N = --split-seed N, a stratified split), JOBS
# searches at once with THREADS threads each, each with --test-limit 0, then writes the table with
# tools/promise_table.py. Needs no .NET: it runs a self-contained publish (see tools/bench_search.sh for how to make
# .bench/pub.txz) or AQ=path/to/aq4svit.
#   JOBS=4 THREADS=4 bash tools/promise_check.sh            results: $OUT/promise.tsv, $OUT/promise.md
# Variants (name: options): greedy, greedy-confirm (--confirm 1000), beam, greedy-500 (--search-limit 500),
# greedy-500-confirm (--search-limit 500 --confirm 500), greedy-confirm-4000, beam-confirm-4000,
# greedy-500-confirm-2000, default (no options), beam-default; VARIANTS="..." picks some, in that order.
# PRUNE=1 deletes each search's .onnx files when it ends (keeps what the tables read small enough to bring back).
# A second call on the same machine skips the runs that have a report.json and resumes the others from state.json.
set -u
OUT=${OUT:-$PWD/promise-out}
W=${W:-/tmp/promise}
JOBS=${JOBS:-4}
THREADS=${THREADS:-4}
MODELS=${MODELS:-"spikformer-fmnist sdt-fmnist"}
SPLITS=${SPLITS:-"first 1 2"}
VARIANTS=${VARIANTS:-"greedy greedy-confirm beam greedy-500 greedy-500-confirm"}
mkdir -p "$W" "$OUT"
if [ -z "${AQ:-}" ]; then
  [ -x "$W/pub/aq4svit" ] || tar xJf .bench/pub.txz -C "$W"
  AQ=$W/pub/aq4svit
fi
options() { # variant → search options
  case $1 in
    greedy) echo "--strategy greedy" ;;
    greedy-confirm) echo "--strategy greedy --confirm 1000" ;;
    beam) echo "--strategy beam" ;;
    greedy-500) echo "--strategy greedy --search-limit 500" ;;
    greedy-500-confirm) echo "--strategy greedy --search-limit 500 --confirm 500" ;;
    greedy-confirm-4000) echo "--strategy greedy --confirm 4000" ;;
    beam-confirm-4000) echo "--strategy beam --confirm 4000" ;;
    greedy-500-confirm-2000) echo "--strategy greedy --search-limit 500 --confirm 2000" ;;
    default) echo "" ;;
    beam-default) echo "--strategy beam" ;;
    *) echo "unknown variant $1" >&2; return 1 ;;
  esac
}
jobs_file=$W/jobs.txt
: > "$jobs_file"
for v in $VARIANTS; do for s in $SPLITS; do for m in $MODELS; do
  name=$m.$v.$s
  [ -f "$W/$name/report.json" ] && continue
  split=""; [ "$s" != first ] && split="--split-seed $s"
  resume=""; [ -f "$W/$name/state.json" ] && resume=" --resume"
  # One line per search and no trailing blank: xargs -L joins a line ending in a blank to the next.
  echo "$name models/$m/model.onnx $(options "$v")${split:+ $split} --test-limit 0 --threads $THREADS --quiet$resume" >> "$jobs_file"
done; done; done
echo "promise: $(wc -l < "$jobs_file") searches to run, $JOBS at once, $THREADS threads each ($(nproc) cores)"
run_one() { # name model options...
  local name=$1; shift
  local start=$SECONDS
  "$AQ" search "$@" --out "$W/$name" > "$W/$name.txt" 2> "$W/$name.err"
  local rc=$?
  [ "${PRUNE:-0}" = 1 ] && rm -f "$W/$name"/*.onnx
  echo "promise: $name rc=$rc in $(( SECONDS - start )) s"
}
export -f run_one; export AQ W PRUNE
xargs -P "$JOBS" -L 1 bash -c 'run_one "$@"' _ < "$jobs_file"
python3 "$(dirname "$0")/promise_table.py" "$W" --max-drop 1.5 --tsv "$OUT/promise.tsv" > "$OUT/promise.md"
cat "$OUT/promise.md"
