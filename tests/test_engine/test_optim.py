"""Gradient accumulation, clipping, the optimizer constructor and the lr schedule."""
import copy
import math

import pytest
import torch
from engine_fixtures import REPO
from mmengine import Config
from mmengine.registry import PARAM_SCHEDULERS
from toy_model import ToyJointModel, toy_joint_collate

from mmgpt.engine import MMGPTOptimWrapperConstructor

SCHEDULE = str(REPO / 'configs' / '_base_' / 'schedules' / 'mmgpt_1epoch.py')


def _batches(n):
    from toy_model import ToyJointDataset
    data = ToyJointDataset(n)
    return [toy_joint_collate([data[i]]) for i in range(n)]


def _params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_updates_every_16_iterations_and_clips_the_accumulated_gradient():
    torch.manual_seed(0)
    model = ToyJointModel(dropout=0.0)  # deterministic gradients to compare against
    reference = copy.deepcopy(model)
    wrapper = MMGPTOptimWrapperConstructor(dict(
        optimizer=dict(type='SGD', lr=0.5), accumulative_counts=16,
        clip_grad=dict(max_norm=1e-3)))(model)
    clipped = []
    clip = wrapper.clip_func

    def spy(params, **kwargs):
        params = list(params)
        clipped.append(torch.cat([p.grad.flatten() for p in params]).clone())
        return clip(params, **kwargs)

    wrapper.clip_func = spy
    batches = _batches(32)
    wrapper.initialize_count_status(model, 0, 32)
    updated_at = []
    for i, batch in enumerate(batches):
        before = _params(model)
        model.train_step(batch, optim_wrapper=wrapper)
        if any(not torch.equal(before[n], p) for n, p in _params(model).items()):
            updated_at.append(i + 1)
        if i + 1 == 16:
            after_16 = _params(model)
    assert updated_at == [16, 32]
    assert len(clipped) == 2

    # The clipped gradient is the mean of the 16 micro-batch gradients of the window.
    names = [n for n, p in reference.named_parameters() if p.requires_grad]
    grads = {n: torch.zeros_like(p) for n, p in reference.named_parameters() if p.requires_grad}
    for batch in batches[:16]:
        reference.zero_grad()
        losses = reference(**batch)
        sum(losses.values()).backward()
        for n, p in reference.named_parameters():
            if p.requires_grad:
                grads[n] += p.grad / 16
    expected = torch.cat([grads[n].flatten() for n in names])
    torch.testing.assert_close(clipped[0], expected, rtol=1e-5, atol=1e-8)
    # ... and the update used it once, clipped to max_norm: SGD moves by lr * clipped grad.
    scale = 1e-3 / (expected.norm().item() + 1e-6)
    for n in names:
        initial = reference.get_parameter(n).detach()
        torch.testing.assert_close(after_16[n], initial - 0.5 * scale * grads[n],
                                   rtol=1e-5, atol=1e-7)
    assert expected.norm().item() > 1e-3  # the clipping was active


def test_constructor_passes_trainable_params_and_decays_by_name():
    model = ToyJointModel()
    wrapper = MMGPTOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1)))(model)
    groups = {g['weight_decay']: g['names'] for g in wrapper.optimizer.param_groups}
    assert groups == {0.1: ['gated_cross_attn_layer.weight'],
                      0.0: ['lora_A.weight', 'lora_B.weight']}
    frozen = {id(p) for p in model.parameters() if not p.requires_grad}
    given = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    assert given.isdisjoint(frozen) and len(given) == 3


def test_constructor_decay_patterns_from_config_and_errors():
    model = ToyJointModel()
    wrapper = MMGPTOptimWrapperConstructor(
        dict(optimizer=dict(type='AdamW', lr=1e-5, weight_decay=0.1)),
        paramwise_cfg=dict(decay_patterns=None))(model)
    assert [g['weight_decay'] for g in wrapper.optimizer.param_groups] == [0.1]
    with pytest.raises(KeyError, match='bias_decay_mult'):
        MMGPTOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1e-5)),
                                     paramwise_cfg=dict(bias_decay_mult=0.0))
    model.requires_grad_(False)
    with pytest.raises(ValueError, match='no parameter with requires_grad'):
        MMGPTOptimWrapperConstructor(dict(optimizer=dict(type='AdamW', lr=1e-5)))(model)


def test_constructor_on_the_tiny_model_follows_the_released_decay():
    from mmgpt.testing import build_tiny

    model = build_tiny()
    cfg = Config.fromfile(SCHEDULE).optim_wrapper
    cfg.pop('constructor')
    paramwise_cfg = cfg.pop('paramwise_cfg')
    wrapper = MMGPTOptimWrapperConstructor(cfg.to_dict(), paramwise_cfg)(model)
    decay, no_decay = ({n for g in wrapper.optimizer.param_groups if g['weight_decay'] == wd
                        for n in g['names']} for wd in (0.1, 0.0))
    assert decay | no_decay == set(model.trainable_parameter_names())
    assert decay and all('gated_cross_attn_layer' in n for n in decay)
    assert all('self_attn' in n for n in no_decay)


def _lr_curve(epoch_length, steps):
    cfg = Config.fromfile(SCHEDULE)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = []
    for s in copy.deepcopy(cfg.param_scheduler):
        if s.pop('convert_to_iter_based', False):  # as Runner.build_param_scheduler does
            cls = PARAM_SCHEDULERS.get(s.pop('type'))
            s.pop('by_epoch')
            schedulers.append(cls.build_iter_from_epoch(optimizer, epoch_length=epoch_length,
                                                        **s))
        else:
            schedulers.append(PARAM_SCHEDULERS.build(s, default_args=dict(optimizer=optimizer)))
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]['lr'])  # the lr of this iteration
        for s in schedulers:
            s.step()
    return lrs


def test_lr_follows_linear_warmup_times_cosine():
    epoch_length = 20_000  # ~167k VL samples / 8 GPUs
    lrs = _lr_curve(epoch_length, epoch_length)
    warmup = 1600  # 100 updates x 16 accumulated iterations

    def expected(t):
        w = 1e-3 + (1 - 1e-3) * min(t, warmup - 1) / (warmup - 1)
        return 1e-5 * w * (1 + math.cos(math.pi * t / epoch_length)) / 2

    for t in (0, 1, 16, 800, 1599, 1600, 1601, 5000, 10_000, 15_000, 19_000, 19_999):
        assert lrs[t] == pytest.approx(expected(t), rel=1e-6, abs=1e-15), t
    assert max(lrs) == pytest.approx(1e-5 * (1 + math.cos(math.pi * 1599 / 20_000)) / 2,
                                     rel=1e-6)
