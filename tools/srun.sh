#!/usr/bin/env bash
# Shared by slurm_train.sh / slurm_test.sh: srun an mm_cbam entry point with --launcher slurm.
#   tools/srun.sh PARTITION JOB_NAME ENTRY ARGS...   (ENTRY: train | test)
# GPUS (total tasks, default 8), GPUS_PER_NODE (default: GPUS up to 8, so GPUS=4 asks for 4 GPUs
# on one node and GPUS=16 for two nodes of 8), CPUS_PER_TASK (5), SRUN_ARGS as in mmdet.
# CPU-only partitions: GPUS_PER_NODE=0 (tasks then use the gloo backend), TASKS_PER_NODE.
set -x
PARTITION=$1
JOB_NAME=$2
ENTRY=$3
GPUS=${GPUS:-8}
if [ "$GPUS" -lt 8 ]; then GPUS_PER_NODE=${GPUS_PER_NODE:-$GPUS}; else GPUS_PER_NODE=${GPUS_PER_NODE:-8}; fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
HERE="$(cd "$(dirname "$0")" && pwd)"
TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
GRES="--gres=gpu:${GPUS_PER_NODE}"
if [ "$GPUS_PER_NODE" = "0" ]; then
    GRES=""
    if [ "$TASKS_PER_NODE" = "0" ]; then TASKS_PER_NODE=1; fi
fi
PYTHONPATH="$HERE/..":$PYTHONPATH \
srun -p ${PARTITION} \
    --job-name=${JOB_NAME} \
    ${GRES} \
    --ntasks=${GPUS} \
    --ntasks-per-node=${TASKS_PER_NODE} \
    --cpus-per-task=${CPUS_PER_TASK} \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    ${PYTHON} -u -m "mm_cbam.$ENTRY" "${@:4}" --launcher=slurm
