"""tools/train.py argument handling: resume semantics, --amp, work dir."""
import importlib.util

import pytest
import torch
from engine_fixtures import JOINT_CONFIG, REPO
from mmengine import Config


@pytest.fixture(scope='module')
def train_tool():
    spec = importlib.util.spec_from_file_location('train_tool', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _merged(tool, *argv):
    args = tool.parse_args([JOINT_CONFIG, *argv])
    return tool.merge_args(Config.fromfile(JOINT_CONFIG), args)


def test_resume_without_value_resumes_from_the_work_dir(train_tool):
    cfg = _merged(train_tool, '--resume')
    assert cfg.resume is True and cfg.load_from is None
    cfg = _merged(train_tool, '--resume', 'wd/iter_32.pth')
    assert cfg.resume is True and cfg.load_from == 'wd/iter_32.pth'
    cfg = _merged(train_tool)
    assert cfg.resume is False and cfg.work_dir == './work_dirs/mmgpt_joint'
    assert cfg.launcher == 'none'


def test_amp_selects_bf16_and_halves_frozen_weights(train_tool, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = _merged(train_tool, '--amp')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16' and 'loss_scale' not in cfg.optim_wrapper
    assert cfg.model.frozen_dtype == 'bfloat16'
    assert cfg.optim_wrapper.accumulative_counts == 16
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=1.0)


def test_amp_fp16_uses_a_dynamic_loss_scaler(train_tool, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    args = train_tool.parse_args([JOINT_CONFIG, '--amp'])
    cfg = Config.fromfile(JOINT_CONFIG)
    cfg.merge_from_dict({'optim_wrapper.dtype': 'float16'})
    cfg = train_tool.merge_args(cfg, args)
    assert cfg.optim_wrapper.loss_scale == 'dynamic' and cfg.model.frozen_dtype == 'float16'


def test_amp_on_cpu_is_refused(train_tool, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match='CUDA'):  # one line, exit 2 (mmgpt.utils.cli)
        _merged(train_tool, '--amp')
