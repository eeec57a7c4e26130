#!/usr/bin/env bash
# The torchrun launch shared by dist_train.sh and dist_test.sh (gloo on machines without
# CUDA): NUM_GPUS processes of this node run SCRIPT with `--launcher pytorch`.
#   bash tools/torchrun.sh NUM_GPUS SCRIPT [args...]
# Environment: NNODES, NODE_RANK, MASTER_ADDR, PORT (several nodes: the same NNODES,
# MASTER_ADDR and PORT on every node, NODE_RANK=0..NNODES-1) and PYTHON (the interpreter
# of your environment). The exit status is torchrun's (non-zero if any rank failed).
set -euo pipefail
CALLER=${CALLER:-torchrun.sh}
GPUS=$1
SCRIPT=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR="$(cd "$(dirname "$0")" && pwd)"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "$CALLER: error: no Python named '$PYTHON' (hint: activate your environment or set PYTHON=/path/to/python)" >&2
    exit 2
fi
echo "$CALLER: $GPUS process(es) per node with $(command -v "$PYTHON") ($("$PYTHON" -c 'import sys; print(sys.version.split()[0])')); PYTHON=... to choose another" >&2

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS_DIR/$SCRIPT" --launcher pytorch "$@"
