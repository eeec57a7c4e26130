"""tools/demo.py end to end at smoke size: every stage runs, reruns reuse, --force and a
missing output redo a stage and every later one."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE_FILES = ('data/meta.json', 'stage0/clip_tiny.safetensors',
               'stage1/openflamingo_tiny.safetensors', 'stage2/mmgpt_lora.safetensors',
               'eval.json')


def _demo(work_dir, *args):
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'demo.py'), '--smoke', '--work-dir',
         str(work_dir), *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.slow
def test_demo_runs_every_stage_then_reuses_and_forces(tmp_path):
    out = _demo(tmp_path)
    for name in STAGE_FILES:
        assert (tmp_path / name).is_file(), name
    summary = json.loads((tmp_path / 'eval.json').read_text())
    assert set(summary['tasks']) == {'count', 'color', 'shape', 'word', 'caption', 'dialog',
                                     'lang_add', 'lang_reverse', 'lang_upper'}
    for task, row in summary['tasks'].items():
        assert row['n'] >= 1 and 0 < row['chance'] < 1, task
        assert 0 <= row['base'] <= 1 and 0 <= row['tuned'] <= 1, task
    assert 'you> Describe the image in detail.' in out and 'bot> ' in out
    assert '[reusing' not in out
    # the console shows a bar per training stage; MMEngine's output is in its train.log
    assert 'System environment' not in out and 'Iter(train)' not in out
    for stage in ('stage0', 'stage1', 'stage2'):
        assert f'{stage}/train.log]' in out
        assert 'Iter(train)' in (tmp_path / stage / 'train.log').read_text()

    stamps = {n: (tmp_path / n).stat().st_mtime_ns for n in STAGE_FILES}
    out = _demo(tmp_path, '--force', 'stage2')
    assert out.count('[reusing') == 3  # data, CLIP, stage 1
    for name in STAGE_FILES[:3]:
        assert (tmp_path / name).stat().st_mtime_ns == stamps[name], name
    for name in STAGE_FILES[3:]:
        assert (tmp_path / name).stat().st_mtime_ns > stamps[name], name

    # A missing earlier output is remade, and everything made from it too.
    stamps = {n: (tmp_path / n).stat().st_mtime_ns for n in STAGE_FILES}
    (tmp_path / STAGE_FILES[1]).unlink()
    out = _demo(tmp_path)
    assert out.count('[reusing') == 1  # the data only
    for name in STAGE_FILES[2:]:
        assert (tmp_path / name).stat().st_mtime_ns > stamps[name], name
