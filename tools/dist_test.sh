#!/usr/bin/env bash
# Evaluate on NUM_GPUS processes of this node with torchrun (gloo on machines without CUDA).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [tools/test.py args...]
# Each rank answers its share of the questions and writes <out>.rank<r>; rank 0 joins
# them and computes the metrics. Environment as tools/torchrun.sh. The exit status is
# torchrun's.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT NUM_GPUS [test.py args...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
CALLER=dist_test.sh exec bash "$(dirname "$0")/torchrun.sh" "$GPUS" test.py "$CONFIG" \
    "$CHECKPOINT" "$@"
