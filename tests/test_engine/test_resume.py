"""Resume from copied and moved work dirs, past a truncated checkpoint, and refusing a new shape."""
import shutil

import pytest
import torch
from toy_model import toy_runner_cfg

from mmgpt.engine import MMGPTRunner
from mmgpt.engine import resume as resume_module
from mmgpt.engine.resume import CheckpointReadError, ResumeMismatchError, find_resume_checkpoint

KEEP = {'default_hooks.checkpoint.interval': 16, 'default_hooks.checkpoint.max_keep_ckpts': 5}


def _runner(work_dir, name, **overrides):
    cfg = toy_runner_cfg(work_dir, **dict(KEEP, **overrides))
    cfg.experiment_name = f'toy_resume_{name}_{abs(hash(str(work_dir)))}'
    return MMGPTRunner.from_cfg(cfg)


def _resumed(work_dir, name, **overrides):
    """A runner resumed from ``work_dir`` (loop, optimizer and schedulers built, no training)."""
    runner = _runner(work_dir, name, resume=True, **overrides)
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.param_schedulers = runner.build_param_scheduler(runner.param_schedulers)
    runner.load_or_resume()
    return runner


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A finished 48-iteration toy run with checkpoints at 16, 32 and 48."""
    wd = tmp_path_factory.mktemp('resume') / 'wd'
    _runner(wd, 'trained').train()
    return wd


def test_pointer_is_relative_to_the_work_dir(trained):
    assert (trained / 'last_checkpoint').read_text() == 'iter_48.pth'


def test_moved_work_dir_resumes(tmp_path):
    _runner(tmp_path / 'src', 'src', **{'train_dataloader.dataset.length': 16}).train()
    (tmp_path / 'src').rename(tmp_path / 'moved')
    runner = _resumed(tmp_path / 'moved', 'moved', **{'train_dataloader.dataset.length': 16})
    assert runner.iter == 16


def test_copied_work_dir_resumes_from_its_own_files(trained, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(trained, copy)
    ckpt = torch.load(copy / 'iter_48.pth', weights_only=True)
    ckpt['state_dict'] = {k: torch.full_like(v, 0.25) for k, v in ckpt['state_dict'].items()}
    torch.save(ckpt, copy / 'iter_48.pth')
    runner = _resumed(copy, 'copied')
    assert all(torch.all(v == 0.25) for v in runner.model.state_dict().values())


def test_old_absolute_pointer_in_a_copy_uses_the_copy(trained, tmp_path):
    copy = tmp_path / 'copy'
    shutil.copytree(trained, copy)
    (copy / 'last_checkpoint').write_text(str(trained / 'iter_32.pth'))  # an older version's
    assert find_resume_checkpoint(str(copy)) == str(copy / 'iter_32.pth')


def test_truncated_latest_checkpoint_falls_back_with_a_warning(trained, tmp_path, monkeypatch):
    wd = tmp_path / 'wd'
    shutil.copytree(trained, wd)
    data = (wd / 'iter_48.pth').read_bytes()
    (wd / 'iter_48.pth').write_bytes(data[:len(data) // 2])
    warnings = []
    monkeypatch.setattr(resume_module, 'print_log', lambda msg, **kw: warnings.append(msg))
    runner = _resumed(wd, 'truncated')
    assert runner.iter == 32
    assert len(warnings) == 1 and str(wd / 'iter_48.pth') in warnings[0]
    assert 'iter_32.pth instead' in warnings[0]


def test_no_readable_checkpoint_is_an_error_naming_the_files(trained, tmp_path):
    wd = tmp_path / 'wd'
    shutil.copytree(trained, wd)
    for p in wd.glob('iter_*.pth'):
        p.write_bytes(b'PK\x03\x04 truncated')
    with pytest.raises(CheckpointReadError, match='iter_48.pth .*iter_16.pth'):
        find_resume_checkpoint(str(wd))


def test_given_truncated_checkpoint_is_named(trained, tmp_path):
    bad = tmp_path / 'bad.pth'
    bad.write_bytes((trained / 'iter_32.pth').read_bytes()[:1000])
    with pytest.raises(CheckpointReadError, match=f'checkpoint {bad} cannot be read'):
        _resumed(tmp_path / 'wd2', 'given', load_from=str(bad))


def test_resume_with_another_batch_size_stops(trained, tmp_path):
    wd = tmp_path / 'wd'
    shutil.copytree(trained, wd)
    with pytest.raises(ResumeMismatchError, match=r'batch size per process 1 -> 2, iterations '
                       r'per epoch 48 -> 24'):
        _resumed(wd, 'batch', **{'train_dataloader.batch_size': 2})


def test_resume_with_another_world_size_stops(trained, tmp_path):
    """A checkpoint of a 2-process run (its meta as that run wrote it) resumed on 1."""
    wd = tmp_path / 'wd'
    shutil.copytree(trained, wd)
    ckpt = torch.load(wd / 'iter_48.pth', weights_only=True)
    assert ckpt['meta']['world_size'] == 1 and ckpt['meta']['iters_per_epoch'] == 48
    ckpt['meta'].update(world_size=2, iters_per_epoch=24)
    torch.save(ckpt, wd / 'iter_48.pth')
    with pytest.raises(ResumeMismatchError, match=r'processes \(world size\) 2 -> 1'):
        _resumed(wd, 'world')
