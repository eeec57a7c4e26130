"""A smoke-size demo shared by the slow tests of this folder (made once per session)."""
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_smoke_demo(work_dir: Path, threads: int = 1) -> str:
    """``tools/demo.py --smoke`` into ``work_dir``; returns its output."""
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'demo.py'), '--smoke', '--threads',
         str(threads), '--work-dir', str(work_dir)], cwd=REPO, capture_output=True,
        text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope='session')
def smoke_demo_runner():
    """:func:`run_smoke_demo`, for tests that need a second run."""
    return run_smoke_demo


@pytest.fixture(scope='session')
def smoke_demo(tmp_path_factory) -> Path:
    """The work dir of a finished ``tools/demo.py --smoke --threads 1`` (about 1 min)."""
    work_dir = tmp_path_factory.mktemp('smoke_demo')
    run_smoke_demo(work_dir)
    return work_dir
