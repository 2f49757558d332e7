#!/usr/bin/env bash
# Shared by slurm_train.sh / slurm_test.sh: srun a tools/ script with --launcher slurm.
#   tools/srun.sh PARTITION JOB_NAME SCRIPT ARGS...
# GPUS (total tasks, default 8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS as in mmdet.
# CPU-only partitions: GPUS_PER_NODE=0 (tasks then use the gloo backend), TASKS_PER_NODE.
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
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
    ${PYTHON} -u "$HERE/$SCRIPT" "${@:4}" --launcher=slurm
