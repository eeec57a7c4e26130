"""A miniature of the paper's ``data/`` tree (every public format, a few records each).

The paper's dataset config (configs/_base_/datasets/mmgpt_joint_data.py) reads paths
relative to the working directory, so a test writes this tree into a temporary folder
and runs tools/train.py from there: the same config, only smaller.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TINY_CONFIG = str(REPO / 'configs' / 'tiny' / 'mmgpt_tiny_fixture.py')
JOINT_CONFIG = str(REPO / 'configs' / 'mmgpt_joint.py')
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]


def _image(path: Path, k: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (40, 32), COLORS[k % len(COLORS)]).save(path, format='JPEG')
    return path.name


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding='utf-8')


def _qa(q: str, a: str) -> list:
    return [dict(**{'from': 'human', 'value': f'<image>\n{q}'}),
            dict(**{'from': 'gpt', 'value': a})]


def write_data_tree(root: str | os.PathLike, per_dataset: int = 2) -> dict:
    """Write ``data/`` under ``root`` with ``per_dataset`` records per public file.

    Args:
        root (str | PathLike): The folder that will hold ``data/``.
        per_dataset (int): Records per annotation file. Defaults to 2.

    Returns:
        dict: ``vl`` and ``lang``: the number of samples of each modality.
    """
    data, n = Path(root) / 'data', per_dataset
    coco17 = data / 'coco' / 'train2017'
    names = [_image(coco17 / f'{k:012d}.jpg', k) for k in range(n)]
    for name in ('detail_23k', 'complex_reasoning_77k'):
        _json(data / 'llava' / f'{name}.json', [
            dict(id=names[k][:-4], image=names[k],
                 conversations=_qa(f'What colour is picture {k}?', f'It is colour {k}.'))
            for k in range(n)])
    _json(data / 'llava' / 'conversation_58k.json', [
        dict(id=names[k][:-4], image=names[k],
             conversations=_qa('Describe it.', 'A plain colour.') + [
                 dict(**{'from': 'human', 'value': 'Anything else?'}),
                 dict(**{'from': 'gpt', 'value': 'No, nothing else.'})])
        for k in range(n)])
    _json(data / 'cc_sbu_align' / 'filter_cap.json', dict(annotations=[
        dict(image_id=str(k), caption=f'A flat image of colour {k}.') for k in range(n)]))
    for k in range(n):
        _image(data / 'cc_sbu_align' / 'image' / f'{k}.jpg', k)
    _json(data / 'aokvqa' / 'aokvqa_v1p0_train.json', [
        dict(split='train', image_id=k, question_id=f'q{k}', question='Which colour?',
             choices=['red', 'green', 'blue', 'yellow'], correct_choice_idx=k % 4,
             direct_answers=['red'] * 10, difficult_direct_answer=False,
             rationales=['The whole image has one colour.'])
        for k in range(n)])
    coco14 = data / 'coco' / 'train2014'
    _json(data / 'coco' / 'annotations' / 'coco_karpathy_train.json', [
        dict(caption=f'A square of colour {k}.', image_id=f'coco_{k}',
             image='train2014/' + _image(coco14 / f'COCO_train2014_{k:012d}.jpg', k))
        for k in range(n)])
    _json(data / 'OCR_VQA' / 'dataset.json', {
        f'{1000 + k}': dict(imageURL=f'http://example.com/{1000 + k}.jpg',
                            questions=['Who wrote this book?'], answers=[f'Author {k}'],
                            title=f'Title {k}', authorName=f'Author {k}', genre='Travel',
                            split=1)
        for k in range(n)})
    for k in range(n):
        _image(data / 'OCR_VQA' / 'images' / f'{1000 + k}.jpg', k)
    dolly = data / 'dolly' / 'databricks-dolly-15k.jsonl'
    dolly.parent.mkdir(parents=True, exist_ok=True)
    dolly.write_text(''.join(json.dumps(dict(
        instruction=f'Count to {k + 1}.', context='', response=' '.join(
            str(i) for i in range(1, k + 2)), category='open_qa')) + '\n' for k in range(n)))
    _json(data / 'alpaca_gpt4' / 'alpaca_gpt4_data.json', [
        dict(instruction='Name a colour.', input=f'number {k}', output=f'Colour {k}.')
        for k in range(n)])
    return dict(vl=7 * n, lang=2 * n)


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
