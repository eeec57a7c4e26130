#!/usr/bin/env bash
# Install everything (tools/setup_env.sh) and run the linter and the test suite.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
echo "[tests] ruff"
.venv/bin/ruff check --output-format concise mmgpt tools tests configs
echo "[tests] pytest"
exec .venv/bin/python -m pytest "$@"
