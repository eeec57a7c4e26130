"""A miniature of the paper's ``data/`` tree (every public format, a few records each).

The paper's dataset config (configs/_base_/datasets/mmgpt_joint_data.py) reads paths
relative to the working directory, so a test writes this tree (``mmgpt.testing.write_fixture_data``,
also ``tools/make_fixture_data.py``) into a temporary folder and runs tools/train.py from
there: the same config, only smaller.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mmgpt.testing import write_fixture_data as write_data_tree  # noqa: F401

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TINY_CONFIG = str(REPO / 'configs' / 'tiny' / 'mmgpt_tiny_fixture.py')
JOINT_CONFIG = str(REPO / 'configs' / 'mmgpt_joint.py')


def run_env(**extra) -> dict:
    """Environment for subprocess runs: one thread, the repo importable, no dist vars."""
    env = {k: v for k, v in os.environ.items()
           if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT')}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
               PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)]), PYTHONWARNINGS='ignore')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def train_cmd(config: str, work_dir: str | os.PathLike, *args: str) -> list:
    """``python tools/train.py CONFIG --work-dir DIR ARGS``."""
    return [sys.executable, str(REPO / 'tools' / 'train.py'), config, '--work-dir',
            str(work_dir), *args]


def run(cmd: list, cwd, timeout: int = 120, **env) -> subprocess.CompletedProcess:
    """Run ``cmd`` in ``cwd``; fail with its output when it exits non-zero."""
    proc = subprocess.run(cmd, cwd=str(cwd), env=run_env(**env), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f'{cmd} exited {proc.returncode}\n{proc.stdout[-4000:]}\n' \
                                 f'{proc.stderr[-6000:]}'
    return proc


def write_test_config(path: str | os.PathLike, base: str = TINY_CONFIG, dump: bool = True,
                      kill_at: int | None = None, extra: str = '') -> str:
    """Write a config inheriting ``base`` with the test hooks of ``engine_test_hooks``.

    Args:
        path (str | PathLike): Where to write the ``.py`` config.
        base (str): The config to inherit. Defaults to the tiny fixture config.
        dump (bool): Dump each rank's trainable weights at the end. Defaults to True.
        kill_at (int, optional): SIGKILL the process after this iteration.
        extra (str): More config lines.

    Returns:
        str: ``path``.
    """
    hooks = []
    if dump:
        hooks.append("dict(type='DumpTrainableHook')")
    if kill_at is not None:
        hooks.append(f"dict(type='SigkillAtIterHook', iteration={kill_at})")
    Path(path).write_text(
        f"_base_ = [{base!r}]\n"
        "custom_imports = dict(imports=['engine_test_hooks'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='TokenThroughputHook'), {', '.join(hooks)}]\n{extra}\n")
    return str(path)


def load_dump(work_dir, rank: int = 0) -> dict:
    """The trainable weights rank ``rank`` dumped at the end of training."""
    import torch
    return torch.load(Path(work_dir) / f'trainable_rank{rank}.pth', weights_only=True)


def max_abs_diff(a: dict, b: dict) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
