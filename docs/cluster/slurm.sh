#!/usr/bin/env bash
# A unitwin batch as a Slurm job array: one shard per array task, then one job that merges them.
#
#   bash docs/cluster/slurm.sh MANIFEST OUT [SHARDS] [CPUS_PER_SHARD]
#
# submits SHARDS array tasks (default 8), task I running
#   unitwin batch MANIFEST --out OUT/shard-I --shard I/SHARDS --jobs CPUS_PER_SHARD
# and a merge job that starts when every task has succeeded (afterok) and writes
#   OUT/merged/{compare.csv, compare.html}.
# OUT must be on storage every node sees. A failed or preempted task is resumed by resubmitting it
# (`sbatch --array=I ...` or running this script again): finished runs are kept and skipped.
# The unitwin binary is found on PATH or in UNITWIN (e.g. UNITWIN=$PWD/target/release/unitwin).
set -euo pipefail

UNITWIN=${UNITWIN:-unitwin}

if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    # Inside one array task: run this shard. The shard count is the array's size.
    manifest=$1 out=$2
    shards=${SLURM_ARRAY_TASK_COUNT:?SLURM_ARRAY_TASK_COUNT unset: run the array with --array=0-(N-1)}
    exec "$UNITWIN" batch "$manifest" --out "$out/shard-$SLURM_ARRAY_TASK_ID" \
        --shard "$SLURM_ARRAY_TASK_ID/$shards" --jobs "${SLURM_CPUS_PER_TASK:-1}" --quiet
fi

if [[ $# -lt 2 ]]; then
    sed -n '2,14p' "$0"
    exit 2
fi
manifest=$1 out=$2 shards=${3:-8} cpus=${4:-4}
mkdir -p "$out/logs"
# Check the manifest and every variant's scene here, before anything is queued (file:line:col errors).
"$UNITWIN" batch "$manifest" --dry-run --shard "0/$shards" >/dev/null

array=$(sbatch --parsable \
    --job-name=unitwin-batch \
    --array="0-$((shards - 1))" \
    --cpus-per-task="$cpus" \
    --output="$out/logs/shard-%a.out" \
    --export=ALL,UNITWIN="$UNITWIN" \
    "$0" "$manifest" "$out")
echo "submitted array job $array: $shards shards of $manifest"

merge=$(sbatch --parsable \
    --job-name=unitwin-merge \
    --dependency="afterok:$array" \
    --cpus-per-task=1 \
    --output="$out/logs/merge.out" \
    --wrap="\"$UNITWIN\" merge \"$out\"/shard-* --out \"$out/merged\"")
echo "submitted merge job $merge: $out/merged/compare.html when every shard has succeeded"
