#!/usr/bin/env bash
# Train on NUM_GPUS processes of this node with torchrun (gloo on machines without CUDA).
#   bash tools/dist_train.sh CONFIG NUM_GPUS [tools/train.py args...]
# Several nodes: run it on every node with the same NNODES, MASTER_ADDR and PORT and
# NODE_RANK=0..NNODES-1. The exit status is torchrun's (non-zero if any rank failed).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}  # the interpreter of your environment; PYTHON=/path/to/python to choose
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "dist_train.sh: error: no Python named '$PYTHON' (hint: activate your environment or set PYTHON=/path/to/python)" >&2
    exit 2
fi
echo "dist_train.sh: $GPUS process(es) per node with $(command -v "$PYTHON") ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])')); PYTHON=... to choose another" >&2

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS_DIR/train.py" "$CONFIG" --launcher pytorch "$@"
