#!/usr/bin/env bash
# Training on a Slurm cluster (as mmdet's tools/slurm_train.sh):
#   GPUS=16 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# GPUS (total tasks), GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS as in mmdet. On CPU-only
# partitions set GPUS_PER_NODE=0: tasks then train with the gloo backend.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
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
    ${PYTHON} -u "$HERE/train.py" ${CONFIG} --work-dir=${WORK_DIR} --launcher="slurm" ${PY_ARGS}
