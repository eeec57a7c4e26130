"""One-line errors with exit status 2 for user mistakes (mmgpt.utils.cli and the tools)."""
import os
import subprocess
import sys

import pytest

from mmgpt.utils.cli import format_error, run_cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(REPO, 'configs', 'tiny', 'mmgpt_tiny_fixture.py')


def _fail(exc):
    def main(argv=None):
        raise exc
    return main


def test_user_mistake_is_one_line_with_status_2(capsys, monkeypatch):
    monkeypatch.delenv('MMGPT_DEBUG', raising=False)
    assert run_cli(_fail(FileNotFoundError('annotation file x.json does not exist')), [],
                   prog='t.py') == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('t.py: error: annotation file x.json does not exist (hint: check the '
                          'path; relative paths are read from ')
    assert len(err.splitlines()) == 1


def test_registry_key_error_gets_a_type_hint():
    text = format_error(KeyError('Foo is not in the mmgpt::model registry. Please check'), 't')
    assert text.startswith("t: error: Foo is not in the mmgpt::model registry")
    assert 'custom_imports' in text and "'Foo" not in text


def test_debug_flag_or_environment_shows_the_traceback(monkeypatch):
    monkeypatch.delenv('MMGPT_DEBUG', raising=False)
    with pytest.raises(ValueError):
        run_cli(_fail(ValueError('bad')), ['--debug'])
    monkeypatch.setenv('MMGPT_DEBUG', '1')
    with pytest.raises(ValueError):
        run_cli(_fail(ValueError('bad')), [])


def test_bug_is_status_1_and_interrupt_130(capsys, monkeypatch):
    monkeypatch.delenv('MMGPT_DEBUG', raising=False)
    assert run_cli(_fail(ZeroDivisionError('x')), [], prog='t.py') == 1
    assert 'internal error: ZeroDivisionError' in capsys.readouterr().err
    assert run_cli(_fail(KeyboardInterrupt()), [], prog='t.py') == 130


def _tool(name, *args, cwd=REPO, **env):
    environ = {k: v for k, v in os.environ.items() if k != 'MMGPT_DEBUG'}
    environ.update(OMP_NUM_THREADS='1', **env)
    return subprocess.run([sys.executable, os.path.join(REPO, 'tools', name), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300, env=environ)


@pytest.mark.parametrize('tool', ['train.py', 'browse_dataset.py', 'chat.py'])
def test_missing_config_is_one_line(tool, tmp_path):
    proc = _tool(tool, str(tmp_path / 'nope.py'))
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert f'{tool}: error: ' in proc.stderr and 'nope.py' in proc.stderr


def test_train_unknown_type_is_one_line_and_debug_shows_the_traceback(tmp_path):
    args = [TINY, '--work-dir', str(tmp_path / 'wd'), '--cfg-options', 'model.type=MultiModalGTP']
    proc = _tool('train.py', *args)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('train.py: error: ') and 'MultiModalGTP is not in the' in last
    assert 'custom_imports' in last and 'Traceback' not in proc.stderr
    debug = _tool('train.py', *args, MMGPT_DEBUG='1')
    assert debug.returncode == 1 and 'Traceback' in debug.stderr


def test_train_missing_data_names_the_file(tmp_path):
    proc = _tool('train.py', TINY, '--work-dir', str(tmp_path / 'wd'), cwd=tmp_path)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert 'data/llava/detail_23k.json does not exist' in proc.stderr.strip().splitlines()[-1]


def test_demo_unwritable_work_dir_is_one_line():
    proc = _tool('demo.py', '--work-dir', '/proc/mmgpt_demo', '--smoke')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().startswith('demo.py: error: ')
