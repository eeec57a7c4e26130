#!/usr/bin/env bash
# Install everything (tools/setup_env.sh) and run the linter and the whole test suite.
#   bash tools/run_tests.sh [pytest args]
#   bash tools/run_tests.sh -m "not slow and not demo"   # the quick part, ~5 min on 2 cores
# The whole suite is CI's: about 15 minutes on 2 cores once the demo is trained, plus the
# demo's training (about 7-10 min) on a machine where neither $MMGPT_DEMO_DIR nor
# work_dirs/demo holds a finished demo. The `demo` tests check the answers of that trained
# demo (evaluation, export, the web page in headless Chromium, the API with the openai
# client); the `slow` ones are multi-process (DDP, FSDP, DeepSpeed) or end-to-end (smoke
# demos, chat in a terminal) runs of a few seconds to two minutes each.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
echo "[tests] ruff"
.venv/bin/ruff check --output-format concise mmgpt tools tests configs
echo "[tests] pytest"
exec .venv/bin/python -m pytest "$@"
