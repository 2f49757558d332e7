#!/usr/bin/env bash
# Testing on a Slurm cluster (as mmdet's tools/slurm_test.sh):
#   GPUS=8 tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
exec "$(dirname "$0")/srun.sh" "$1" "$2" test "$3" "$4" "${@:5}"
