#!/usr/bin/env bash
# Multi-process training (as mmdet's tools/dist_train.sh):
#   tools/dist_train.sh CONFIG NPROC [train.py options]
# NPROC processes per node: one per GPU, or CPU processes (gloo) on machines without GPUs.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi
exec "$(dirname "$0")/torchrun.sh" train "$2" "$1" "${@:3}"
