#!/usr/bin/env bash
# Multi-process training with torchrun (as mmdet's tools/dist_train.sh):
#   tools/dist_train.sh CONFIG NPROC [train.py options]
# NPROC processes per node: one per GPU, or CPU processes (gloo) on machines without GPUs.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT. PYTHON defaults to the checkout's .venv.
set -e
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -z "$PYTHON" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python; fi
fi
if [ -z "$CONFIG" ] || [ -z "$NPROC" ]; then
    echo "usage: $0 CONFIG NPROC [train.py options]" >&2
    exit 2
fi
PYTHONPATH="$HERE/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$HERE/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
