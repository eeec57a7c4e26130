#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install mmgpt into it.
#   bash tools/setup_env.sh            # runtime + tests + serving (and chromium, as root)
# Idempotent: a second run only checks that everything is present (a few seconds).
# torch/torchvision are pinned exactly and open-flamingo is installed without its
# torch==2.0.1 pin; requirements/*.txt say why.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${MMGPT_VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.mmgpt-installed"
reqs=(requirements/torch.txt requirements/runtime.txt requirements/tests.txt requirements/evaluation.txt
      requirements/serving.txt requirements/engines.txt requirements/open_flamingo.txt setup.py)
# The web demo's browser tests drive the distribution's Chromium (never a downloaded one).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing chromium and chromium-driver (browser tests of the web demo)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver >/dev/null; } \
      || echo "[setup] could not install chromium: the browser tests will be skipped"
  else
    echo "[setup] chromium/chromedriver missing and no root apt-get: the browser tests" \
         "will be skipped (install the chromium and chromium-driver packages)"
  fi
fi
if [ -f "$stamp" ] && [ -z "$(find "${reqs[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
# Some machines' pip config lists local package folders that do not exist; pip warns once
# per package about each. Keep every other message.
quiet_pip() { "${pip[@]}" "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }
echo "[setup] installing torch, runtime, test, serving and engine requirements (first time: about 2 minutes)"
quiet_pip install -q -r requirements/torch.txt -r requirements/runtime.txt \
  -r requirements/tests.txt -r requirements/evaluation.txt -r requirements/serving.txt -r requirements/engines.txt
echo "[setup] installing open-flamingo without its torch pin"
quiet_pip install -q --no-deps -r requirements/open_flamingo.txt
echo "[setup] installing mmgpt (editable)"
quiet_pip install -q --no-deps --no-build-isolation -e .
touch "$stamp"
echo "[setup] done: $("$VENV/bin/python" -c 'import torch, transformers, mmengine, open_flamingo, peft; print(f"torch {torch.__version__}, transformers {transformers.__version__}, mmengine {mmengine.__version__}, peft {peft.__version__}")')"
