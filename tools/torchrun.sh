#!/usr/bin/env bash
# Shared by dist_train.sh / dist_test.sh: run an mm_cbam entry point (train, test) on NPROC
# processes per node with torchrun and --launcher pytorch. NNODES, NODE_RANK, MASTER_ADDR, PORT
# as in mmdet; PYTHON defaults to the checkout's .venv.
#   tools/torchrun.sh ENTRY NPROC ARGS...      (ENTRY: train | test -> python -m mm_cbam.ENTRY)
set -e
ENTRY=$1
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
    -m "mm_cbam.$ENTRY" "${@:3}" --launcher pytorch
