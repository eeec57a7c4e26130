"""Crash-safe checkpoints, strict trainable-only loading, RNG and message hub state."""
import os
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine import Config
from mmengine.logging import MessageHub
from toy_model import ToyJointModel, toy_runner_cfg

from mmgpt.engine import (
    MMGPTCheckpointHook,
    MMGPTRunner,
    get_rng_state,
    pack_message_hub,
    set_rng_state,
    unpack_message_hub,
)
from mmgpt.utils import atomic_write_bytes


def _runner(tmp_path, name='first', **overrides):
    cfg = toy_runner_cfg(tmp_path / 'wd', **overrides)
    cfg.experiment_name = f'toy_{tmp_path.name}_{name}'
    return MMGPTRunner.from_cfg(cfg)


def test_interval_must_be_a_multiple_of_the_accumulation():
    runner = SimpleNamespace(cfg=Config(dict(optim_wrapper=dict(accumulative_counts=16))))
    with pytest.raises(ValueError, match='not a multiple of .* accumulative_counts=16'):
        MMGPTCheckpointHook(interval=24, by_epoch=False).before_train(runner)


def test_a_crash_during_save_keeps_the_latest_checkpoint_readable(tmp_path, monkeypatch):
    import mmengine.runner.runner as runner_module

    real_save = runner_module.save_checkpoint
    calls = []

    def save_then_crash(checkpoint, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == 2:  # the second save dies half-way through writing
            with open(filename, 'wb') as f:
                f.write(b'PK\x03\x04 truncated')
            raise OSError('disk full')
        real_save(checkpoint, filename, *args, **kwargs)

    monkeypatch.setattr(runner_module, 'save_checkpoint', save_then_crash)
    runner = _runner(tmp_path, **{'default_hooks.checkpoint.max_keep_ckpts': 1,
                                  'default_hooks.checkpoint.interval': 16})
    with pytest.raises(OSError, match='disk full'):
        runner.train()
    wd = tmp_path / 'wd'
    last = (wd / 'last_checkpoint').read_text()
    assert last == 'iter_16.pth'  # MMEngine's hook deletes it before saving 32
    ckpt = torch.load(wd / last, weights_only=True)
    assert ckpt['meta']['iter'] == 16
    assert sorted(p.name for p in wd.iterdir() if p.suffix in ('.pth', '.tmp')) == [
        'iter_16.pth']


def test_resume_restores_iteration_optimizer_and_weights(tmp_path):
    runner = _runner(tmp_path, **{'train_cfg.max_epochs': 1})
    runner.train()
    final = {k: v.clone() for k, v in runner.model.state_dict().items()}
    resumed = _runner(tmp_path, name='resumed', resume=True)
    resumed._train_loop = resumed.build_train_loop(resumed._train_loop)
    resumed.optim_wrapper = resumed.build_optim_wrapper(resumed.optim_wrapper)
    resumed.param_schedulers = resumed.build_param_scheduler(resumed.param_schedulers)
    resumed.load_or_resume()
    assert resumed.iter == 48
    for k, v in resumed.model.state_dict().items():
        torch.testing.assert_close(v, final[k], rtol=0, atol=0)
    assert resumed.optim_wrapper.optimizer.state  # AdamW moments came back


def test_resume_mid_epoch_continues_with_the_same_data_and_random_numbers(tmp_path):
    """Resumed from iteration 32 of 64, a model with dropout ends identical."""
    opts = {'default_hooks.checkpoint.interval': 16,
            'default_hooks.checkpoint.max_keep_ckpts': 5,
            'optim_wrapper.optimizer.lr': 0.05, 'param_scheduler.0.end': 16,
            'train_dataloader.dataset.length': 64}
    full = _runner(tmp_path / 'a', name='full', **opts)
    full.train()
    at_32 = str(tmp_path / 'a' / 'wd' / 'iter_32.pth')
    resumed = _runner(tmp_path / 'b', name='resumed', load_from=at_32, resume=True, **opts)
    resumed.train()
    expected = full.model.state_dict()
    moved = torch.load(at_32, weights_only=True)['state_dict']
    assert max((moved[k] - v).abs().max() for k, v in expected.items()) > 1e-3
    for k, v in resumed.model.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=0, atol=1e-7)


def test_load_checkpoint_is_strict_and_names_the_keys(tmp_path):
    model = ToyJointModel()
    fake = SimpleNamespace(model=model, call_hook=lambda *a, **k: None, _has_loaded=False,
                           logger=SimpleNamespace(info=lambda *a: None))
    good = {k: torch.full_like(v, 0.5) for k, v in model.state_dict().items()}
    torch.save(dict(state_dict={'module.' + k: v for k, v in good.items()}), tmp_path / 'a.pth')
    MMGPTRunner.load_checkpoint(fake, str(tmp_path / 'a.pth'))
    assert all(torch.equal(v, good[k]) for k, v in model.state_dict().items())
    torch.save(dict(state_dict=dict(good, stray=torch.zeros(1))), tmp_path / 'b.pth')
    with pytest.raises(KeyError, match='stray'):
        MMGPTRunner.load_checkpoint(fake, str(tmp_path / 'b.pth'))


def test_rng_state_round_trips_through_a_weights_only_file(tmp_path):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    random.random(), np.random.rand(), torch.rand(1)
    torch.save(get_rng_state(), tmp_path / 'rng.pth')
    expected = random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    set_rng_state(torch.load(tmp_path / 'rng.pth', weights_only=True))
    assert (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()) == expected


def test_message_hub_round_trips_through_a_weights_only_file(tmp_path):
    hub = MessageHub.get_instance('mmgpt_test_hub')
    for v in (1.0, 2.0, 4.0):
        hub.update_scalar('train/loss', v)
    hub.update_info('eta', np.float64(3.5))
    hub.update_info('keep_ckpt_ids', [16, 32])
    torch.save(pack_message_hub(hub.state_dict()), tmp_path / 'hub.pth')
    state = unpack_message_hub(torch.load(tmp_path / 'hub.pth', weights_only=True))
    other = MessageHub.get_instance('mmgpt_test_hub_2')
    other.load_state_dict(state)
    assert other.get_scalar('train/loss').mean() == pytest.approx(7 / 3)
    assert other.get_info('keep_ckpt_ids') == [16, 32]


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / 'last_checkpoint'
    atomic_write_bytes(b'old', str(path))
    atomic_write_bytes(b'new', str(path))
    assert path.read_bytes() == b'new'
    assert os.listdir(tmp_path) == ['last_checkpoint']
