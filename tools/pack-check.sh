#!/usr/bin/env bash
# Packs the default (CPU) tool packages, installs aq4svit from that local feed into a scratch tool path as a user
# would (`dotnet tool install --add-source`), runs it away from the source tree (bundled model and data only), and
# fails when any package is 60 MB or more. .ci/run runs it; `tools/pack-check.sh` alone does the same here.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit_mb=60

if ! dotnet pack -c Release -o "$work/feed" src/AQ4SViT.Cli >"$work/pack.log" 2>&1; then
  cat "$work/pack.log" >&2
  echo "pack-check: dotnet pack failed" >&2
  exit 1
fi

too_big=0
for package in "$work"/feed/*.nupkg; do
  bytes=$(stat -c %s "$package")
  printf 'pack-check: %-40s %6.1f MB\n' "$(basename "$package")" "$(awk -v b="$bytes" 'BEGIN {print b / 1048576}')"
  if [ "$bytes" -ge $((limit_mb * 1048576)) ]; then
    echo "pack-check: $(basename "$package") is not under $limit_mb MB" >&2
    too_big=1
  fi
done
[ "$too_big" = 0 ] || exit 1

dotnet tool install --tool-path "$work/tool" --add-source "$work/feed" AQ4SViT.Cli >/dev/null
cd "$work"
"$work/tool/aq4svit" --version | head -n 1
"$work/tool/aq4svit" search --out "$work/out" --search-limit 50 --test-limit 50 --calib 8 --granularity network \
  --bits 4,8 --quiet --json >"$work/report.json"
for f in quantized.onnx setting.json report.json; do
  [ -s "$work/out/$f" ] || { echo "pack-check: the installed tool's search wrote no $f" >&2; exit 1; }
done
echo "pack-check: installed from the local feed on $(dotnet --info | awk '/RID:/ {print $2; exit}'); search ran and wrote its outputs"
