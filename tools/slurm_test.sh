#!/usr/bin/env bash
# Testing on a Slurm cluster (as mmdet's tools/slurm_test.sh):
#   GPUS=8 tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:5}
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON=${PYTHON:-python}
TASKS_PER_NODE=${TASKS_PER_NODE:-$GPUS_PER_NODE}
GRES="--gres=gpu:${GPUS_PER_NODE}"
if [ "$GPUS_PER_NODE" = "0" ]; then  # CPU-only partition: gloo backend
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
    ${PYTHON} -u "$HERE/test.py" ${CONFIG} ${CHECKPOINT} --launcher="slurm" ${PY_ARGS}
