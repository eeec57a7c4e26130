#!/usr/bin/env bash
# Install everything (tools/setup_env.sh) and run the linter and the test suite.
#   bash tools/run_tests.sh [pytest args]                    # every test not marked slow
#   MMGPT_SLOW_TESTS=1 bash tools/run_tests.sh [pytest args] # the slow ones too
# The slow tests are end-to-end: the full demo trained once (about 10 min on 2 cores), the
# browser and API tests on it, smoke demos, multi-process DDP / FSDP / DeepSpeed runs
# (several minutes each); in all about 45-60 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
echo "[tests] ruff"
.venv/bin/ruff check --output-format concise mmgpt tools tests configs
echo "[tests] pytest"
if [ "${MMGPT_SLOW_TESTS:-0}" = 1 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
exec .venv/bin/python -m pytest -m "not slow" "$@"
