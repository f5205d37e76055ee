#!/usr/bin/env bash
# The long fuzz run (issue 25): every reader (ONNX bytes and structure, external data, the bundled model,
# setting.json, state.json, the data files eval reads) at AQ4SVIT_FUZZ_SCALE=SCALE for each SEED, one seed after the
# other, under nice, then the run's table, mutants per reader and broken promises at the top of benchmarks/fuzz.md
# (the earlier runs' sections stay below it). 740 mutants per seed and unit of scale: scale 8 is 5,920 per seed,
# scale 16 is 11,840.
#   tools/fuzz-long.sh [SCALE] [SEED ...]        default: scale 16, one seed drawn from the clock
# Needs a Release build (dotnet build -c Release); TESTS=path/to/AQ4SViT.Onnx.Tests.dll runs that build of the tests
# instead (one built elsewhere with -o, inside the repository so that the tests find models/). A failing seed is replayed with
#   AQ4SVIT_FUZZ_SCALE=SCALE AQ4SVIT_FUZZ_SEED=SEED dotnet test -c Release --no-build --filter "FullyQualifiedName~ModelFuzzTests"
# and the failure names each mutant's index in its FuzzCorpus stream (tests/AQ4SViT.Onnx.Tests/Robustness/FuzzCorpus.cs).
set -uo pipefail
cd "$(dirname "$0")/.."
scale=${1:-16}
shift || true
seeds=("$@")
if [[ ${#seeds[@]} -eq 0 ]]; then
  seeds=($(( $(date +%s%N) % 2000000000 )))
fi

if [[ -n "${TESTS:-}" ]]; then target=("$TESTS"); else target=(-c Release --no-build); fi
work=$(mktemp -d)
report="$work/report.tsv"
status=0
for seed in "${seeds[@]}"; do
  echo "fuzz: seed $seed, scale $scale" >&2
  start=$(date +%s)
  AQ4SVIT_FUZZ_REPORT="$report" AQ4SVIT_FUZZ_SCALE="$scale" AQ4SVIT_FUZZ_SEED="$seed" AQ4SVIT_FUZZ_TRACE="$work/trace-$seed.txt" \
    nice -n 15 dotnet test "${target[@]}" --filter "FullyQualifiedName~ModelFuzzTests" > "$work/run-$seed.txt" 2>&1 || status=1
  echo "fuzz: seed $seed done in $(( $(date +%s) - start )) s ($(grep -E 'Passed!|Failed!' "$work/run-$seed.txt" | tail -1))" >&2
done

mkdir -p benchmarks
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
earlier=$(mktemp)
# The sections of the previous benchmarks/fuzz.md (each "## " heading to the end) are kept below the new run's.
[[ -f benchmarks/fuzz.md ]] && awk '/^## / { keep = 1 } keep' benchmarks/fuzz.md > "$earlier"
{
  echo "# Fuzz runs"
  echo
  echo "\`tools/fuzz-long.sh SCALE SEED…\` (issue 25), newest run first. Each test's seed is the run's seed plus its offset"
  echo "(raw bytes +0, structure +1, external data +2, bundled +3, setting.json +4, state.json +5, data files +6). A mutant"
  echo "*runs* when every command on it exits 0; the others exited 3 with one line naming the culprit. A broken promise is"
  echo "anything else: exit 1, a hang past 30 s, a message naming nothing, an allocation or heap peak over 4× the unmutated"
  echo "input's plus 64 MB. Seconds are wall-clock on a shared machine under \`nice -n 15\`."
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, scale $scale, seeds ${seeds[*]}"
  echo
  echo "\`tools/fuzz-long.sh $scale ${seeds[*]}\` on $(nproc) cores (shared)."
  echo
  echo "| reader | seed | scale | mutants | command runs ok | broken promises | seconds |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$report"
  echo
  awk -F'\t' '{ n += $4; b += $6 } END { printf "**%d mutants in all, %d broken promises.**\n", n, b }' "$report"
  echo
  echo "Mutants per reader:"
  echo
  awk -F'\t' '{ n[$1] += $4; b[$1] += $6 } END { for (r in n) printf "- %s: %d (%d broken promises)\n", r, n[r], b[r] }' "$report" | sort
  if awk -F'\t' '$6 > 0 { found = 1 } END { exit !found }' "$report"; then
    echo
    echo "First failures per test:"
    echo
    awk -F'\t' '$6 > 0 { printf "- %s, seed %s: %s\n", $1, $2, $8 }' "$report"
  fi
  if [[ -s "$earlier" ]]; then
    echo
    cat "$earlier"
  fi
} > "$work/fuzz.md"
mv "$work/fuzz.md" benchmarks/fuzz.md
echo "fuzz: summary in benchmarks/fuzz.md; logs in $work" >&2
exit $status
