#!/usr/bin/env bash
# Train on NUM_GPUS processes of this node with torchrun (gloo on machines without CUDA).
#   bash tools/dist_train.sh CONFIG NUM_GPUS [tools/train.py args...]
# Several nodes: run it on every node with the same NNODES, MASTER_ADDR and PORT and
# NODE_RANK=0..NNODES-1; PYTHON=/path/to/python picks the interpreter (tools/torchrun.sh).
# The exit status is torchrun's (non-zero if any rank failed).
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
CALLER=dist_train.sh exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" train.py "$CONFIG" "$@"
