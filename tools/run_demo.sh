#!/usr/bin/env bash
# The embedded end-to-end demo: installs everything (tools/setup_env.sh), then runs it.
#   bash tools/run_demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
exec .venv/bin/python tools/demo.py "$@"
