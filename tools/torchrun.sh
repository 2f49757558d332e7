#!/usr/bin/env bash
# Shared by dist_train.sh / dist_test.sh: run a tools/ script on NPROC processes per node with
# torchrun and --launcher pytorch. NNODES, NODE_RANK, MASTER_ADDR, PORT as in mmdet; PYTHON
# defaults to the checkout's .venv.
#   tools/torchrun.sh SCRIPT NPROC ARGS...
set -e
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ -z "$PYTHON" ]; then
    if [ -x "$HERE/../.venv/bin/python" ]; then PYTHON="$HERE/../.venv/bin/python"; else PYTHON=python; fi
fi
PYTHONPATH="$HERE/..":$PYTHONPATH \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$HERE/$SCRIPT" "${@:3}" --launcher pytorch
