#!/usr/bin/env bash
# Install everything (tools/setup_env.sh) and run the linter and the test suite.
#   bash tools/run_tests.sh [pytest args]                    # every test not marked slow
#   MMGPT_SLOW_TESTS=1 bash tools/run_tests.sh [pytest args] # the slow ones too
# The default run (CI's) includes the `demo` tests: they check the answers of the trained
# demo (evaluation, export, the web page in headless Chromium, the API with the openai
# client), reusing $MMGPT_DEMO_DIR or work_dirs/demo when it holds a finished demo and
# training it there once otherwise (about 8-10 min on 2 cores). `-m "not demo"` leaves
# them out. The slow tests (smoke demos, multi-process DDP / FSDP / DeepSpeed runs,
# determinism, experiments) add about 30-40 minutes on 2 cores.
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
