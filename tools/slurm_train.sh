#!/usr/bin/env bash
# Training on a Slurm cluster (as mmdet's tools/slurm_train.sh):
#   GPUS=16 tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
exec "$(dirname "$0")/srun.sh" "$1" "$2" train "$3" --work-dir="$4" "${@:5}"
