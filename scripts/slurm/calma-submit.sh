#!/usr/bin/env bash
# Submits a calma plan to Slurm as N shares and a merge that waits for them (docs/slurm.md).
# usage: scripts/slurm/calma-submit.sh N OUT_DIR [sbatch options...] -- CALMA_BENCH_ARGS...
#   e.g. scripts/slurm/calma-submit.sh 4 /shared/calma-sweep --partition=cpu -- \
#          resnet18 mobilenet_v2 --tier 2 --batch 1,8
# Prints the two job ids ("ARRAY_ID MERGE_ID"). CALMA (default: calma on PATH) is passed on.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 3 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
n="$1"
out="$2"
shift 2
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "calma-submit: N must be a positive integer, not '$n'" >&2; exit 2; }
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
[ "${1:-}" = "--" ] || { echo "calma-submit: put -- before the calma bench arguments" >&2; exit 2; }
shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"
calma="${CALMA:-$(command -v calma || true)}"
[ -n "$calma" ] || { echo "calma-submit: no calma on PATH; set CALMA=/path/to/calma" >&2; exit 2; }
export CALMA="$calma" CALMA_OUT="$out" CALMA_ARGS="$*"
array=$(sbatch --parsable "${opts[@]+"${opts[@]}"}" --array=0-$((n - 1)) \
  --output="$out/slurm-%A_%a.out" --export=ALL "$here/calma-array.sbatch")
array="${array%%;*}"
merge=$(sbatch --parsable "${opts[@]+"${opts[@]}"}" --dependency=afterany:"$array" \
  --output="$out/slurm-merge-%j.out" --export=ALL "$here/calma-merge.sbatch")
echo "${array} ${merge%%;*}"
