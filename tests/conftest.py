"""Shared test set-up: MMEngine's default scope and a small torch thread count."""
import os

import pytest
import torch

os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True, scope='session')
def _mmgpt_scope():
    from mmengine.registry import DefaultScope, init_default_scope
    if DefaultScope.get_current_instance() is None:
        init_default_scope('mmgpt')
    yield


def _demo_complete(work_dir: str) -> bool:
    return all(os.path.isfile(os.path.join(work_dir, p)) for p in (
        'eval.json', 'stage2/mmgpt_lora.safetensors', 'data/meta.json'))


@pytest.fixture(scope='session')
def trained_demo():
    """The work dir of a complete embedded demo (``tools/demo.py``), trained if absent.

    Reuses ``$MMGPT_DEMO_DIR`` or ``work_dirs/demo`` when it holds a finished run;
    otherwise runs the full demo into ``work_dirs/demo`` (about 10 minutes on 2 cores,
    once per session). Tests that use it check answers of a really trained model
    (evaluation, export, web demo, API); they are marked ``demo`` automatically.
    """
    import subprocess
    import sys

    work_dir = os.environ.get('MMGPT_DEMO_DIR') or os.path.join(REPO, 'work_dirs', 'demo')
    if not _demo_complete(work_dir):
        subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'demo.py'),
                        '--work-dir', work_dir], check=True, cwd=REPO, timeout=3600)
    assert _demo_complete(work_dir), f'the demo did not finish in {work_dir}'
    return work_dir


def pytest_collection_modifyitems(config, items):
    """A test that may train the demo first (``trained_demo``: ~10 min) is marked ``demo``
    and gets 50 minutes, not the default per-test timeout (pyproject.toml), which counts
    fixture set-up too."""
    for item in items:
        if 'trained_demo' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.demo)
            item.add_marker(pytest.mark.timeout(3000))
