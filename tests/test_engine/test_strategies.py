"""DeepSpeed ZeRO-2/3 and FSDP configs, runner choice, and their checkpoints, on CPU.

What runs here (2 shared CPU cores, gloo): DeepSpeed 0.19.8's CPU accelerator runs
ZeRO-2 and ZeRO-3 with bf16 weights; torch's FSDP runs with ``device_id=cpu`` in fp32
(bf16 autocast needs CUDA in MMEngine's ``AmpOptimWrapper``, so the FSDP config's
bf16 is left to a GPU). The paper's 9B configs are parsed and validated, not run.
"""
import socket

import pytest
import torch
from engine_fixtures import REPO, TINY_CONFIG, run, train_cmd, write_data_tree
from mmengine import Config

CONFIGS = {name: str(REPO / 'configs' / f'mmgpt_joint_{name}.py')
           for name in ('zero2', 'zero3', 'fsdp')}
STRATEGY_BASES = {name: str(REPO / 'configs' / '_base_' / 'strategies' / f'{name}.py')
                  for name in ('deepspeed_zero2', 'deepspeed_zero3', 'fsdp')}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _python() -> str:
    import sys
    return sys.executable


def _tiny_config(path, strategy: str | None, extra: str = '') -> str:
    """The tiny fixture config under ``strategy`` (a base in configs/_base_/strategies),
    accumulation 4 and a checkpoint every 4 iterations (all kept)."""
    bases = [TINY_CONFIG] + ([STRATEGY_BASES[strategy]] if strategy else [])
    body = (f'_base_ = {bases!r}\n'
            'default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=10))\n'
            "custom_hooks = [dict(type='TokenThroughputHook')]\n")
    body += 'optim_wrapper = dict(accumulative_counts=4)\n'
    if strategy == 'fsdp':
        body += 'strategy = dict(frozen_dtype=None)  # fp32 on CPU (no bf16 autocast)\n'
    path.write_text(body + extra)
    return str(path)


def _weights(path) -> dict:
    return torch.load(path, weights_only=True)['state_dict']


def _max_diff(a: dict, b: dict) -> float:
    assert list(a) == list(b)
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def _assert_trainable_only_and_chat_readable(path) -> None:
    """The checkpoint loads strictly onto the tiny model the way tools/chat.py loads it."""
    from mmgpt.models.weights import load_weights_file
    from mmgpt.testing import build_tiny

    ckpt = torch.load(path, weights_only=True)
    assert {'meta', 'state_dict', 'optimizer', 'param_schedulers', 'message_hub',
            'rng_state'} <= set(ckpt)
    model = build_tiny()
    assert list(ckpt['state_dict']) == list(model.trainable_parameter_names())
    assert all(v.dtype == torch.float32 for v in ckpt['state_dict'].values())
    model.load_state_dict(load_weights_file(str(path)), strict=True)
    assert ckpt['optimizer']['format'] == 'mmgpt-gathered'
    assert set(ckpt['optimizer']['state']) == set(ckpt['state_dict'])


# ------------------------------------------------------------------ fast checks
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_engine_configs_parse_and_resolve(name):
    from mmgpt.engine import deepspeed_optim_wrapper
    from mmgpt.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, STRATEGIES

    cfg = Config.fromfile(CONFIGS[name])
    joint = Config.fromfile(str(REPO / 'configs' / 'mmgpt_joint.py'))
    assert cfg.model == joint.model and cfg.train_dataloader == joint.train_dataloader
    assert cfg.param_scheduler == joint.param_scheduler
    assert STRATEGIES.get(cfg.strategy.type) is not None
    assert cfg.optim_wrapper.optimizer == joint.optim_wrapper.optimizer
    if name == 'fsdp':
        assert cfg.strategy.model_wrapper.use_orig_params is True
        assert cfg.strategy.frozen_dtype == 'bfloat16'
        assert cfg.optim_wrapper.accumulative_counts == 16
        wrapper = cfg.optim_wrapper
    else:
        assert cfg.strategy.bf16 == dict(enabled=True)
        assert cfg.strategy.zero_optimization.stage == int(name[-1])
        assert cfg.optim_wrapper == joint.optim_wrapper  # the schedule's, unrestated
        wrapper, ds = deepspeed_optim_wrapper(cfg.optim_wrapper, cfg.strategy)
        assert wrapper['type'] == 'DeepSpeedOptimWrapper'
        assert ds['gradient_accumulation_steps'] == 16 and ds['gradient_clipping'] == 1.0
        assert 'accumulative_counts' not in wrapper and 'clip_grad' not in wrapper
    assert OPTIM_WRAPPERS.get(wrapper['type']) is not None
    assert OPTIM_WRAPPER_CONSTRUCTORS.get(wrapper['constructor']) is not None


def test_deepspeed_wrapper_refuses_what_deepspeed_cannot_do():
    from mmgpt.engine import deepspeed_optim_wrapper

    base = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4),
                accumulative_counts=4, clip_grad=dict(max_norm=1.0))
    with pytest.raises(ValueError, match='L2'):
        deepspeed_optim_wrapper(dict(base, clip_grad=dict(type='value', clip_value=1.0)), {})
    with pytest.raises(ValueError, match='contradicts'):
        deepspeed_optim_wrapper(base, {}, dict(gradient_accumulation_steps=8))
    with pytest.raises(ValueError, match='cannot run under DeepSpeed'):
        deepspeed_optim_wrapper(dict(base, type='ApexOptimWrapper'), {})
    wrapper, ds = deepspeed_optim_wrapper(base, {'bf16': {'enabled': True}},
                                          dict(gradient_accumulation_steps=4))
    assert ds == {'bf16': {'enabled': True}, 'gradient_accumulation_steps': 4,
                  'gradient_clipping': 1.0}
    assert wrapper == dict(type='DeepSpeedOptimWrapper', optimizer=base['optimizer'])
    assert deepspeed_optim_wrapper(wrapper, ds) == (wrapper, ds)  # already DeepSpeed's
    # a schedule without accumulative_counts leaves the strategy's own setting alone
    plain = dict(type='OptimWrapper', optimizer=base['optimizer'])
    _, ds = deepspeed_optim_wrapper(plain, {'gradient_accumulation_steps': 8},
                                    dict(gradient_accumulation_steps=8))
    assert ds == {'gradient_accumulation_steps': 8}


@pytest.mark.parametrize('name', ['zero2', 'zero3'])
def test_deepspeed_configs_pass_deepspeeds_own_parser(name):
    from deepspeed.runtime.config import DeepSpeedConfig
    from pydantic import ValidationError

    from mmgpt.engine import deepspeed_optim_wrapper

    cfg = Config.fromfile(CONFIGS[name])
    _, ds = deepspeed_optim_wrapper(cfg.optim_wrapper, cfg.strategy.to_dict())
    ds = {k: v for k, v in ds.items() if k != 'type'}
    ds['train_micro_batch_size_per_gpu'] = cfg.train_dataloader.batch_size
    parsed = DeepSpeedConfig(ds)
    assert parsed.zero_optimization_stage == int(name[-1])
    assert parsed.bfloat16_config.enabled and parsed.gradient_accumulation_steps == 16
    assert parsed.train_batch_size == 2 * 16  # one process: (1 VL + 1 lang) x 16
    ds['zero_optimization']['stage3_typo'] = 1  # the parser does reject unknown keys
    with pytest.raises(ValidationError):
        DeepSpeedConfig(ds)


def test_the_tiny_model_builds_under_each_engine_config():
    from mmgpt.registry import MODELS

    for name in CONFIGS:
        cfg = Config.fromfile(CONFIGS[name])
        tiny = Config.fromfile(TINY_CONFIG)
        model = MODELS.build(dict(cfg.model, **{k: tiny.model[k] for k in (
            'vision_encoder', 'lang_model', 'tokenizer', 'cross_attn', 'perceiver',
            'pretrained')}))
        assert model.trainable_parameter_names()


def test_train_tool_picks_the_runner_from_the_config(monkeypatch):
    import importlib.util

    from mmgpt.engine import MMGPTFlexibleRunner, MMGPTRunner

    spec = importlib.util.spec_from_file_location('train_tool', REPO / 'tools' / 'train.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    picked = []
    monkeypatch.setattr(MMGPTFlexibleRunner, 'from_cfg', classmethod(
        lambda cls, cfg: picked.append('flexible')))
    monkeypatch.setattr(MMGPTRunner, 'from_cfg', classmethod(
        lambda cls, cfg: picked.append('mmgpt')))
    for name in ('zero2', 'fsdp'):
        tool.build_runner(Config.fromfile(CONFIGS[name]))
    tool.build_runner(Config.fromfile(str(REPO / 'configs' / 'mmgpt_joint.py')))
    assert picked == ['flexible', 'flexible', 'mmgpt']
    args = tool.parse_args([CONFIGS['zero2'], '--amp'])
    with pytest.raises(SystemExit, match='strategy'):
        tool.merge_args(Config.fromfile(CONFIGS['zero2']), args)


def test_mmengine_deepspeed_optimizer_registration_still_fails_as_worked_around():
    """MMGPTDeepSpeedStrategy.__init__ tolerates exactly this upstream failure (MMEngine
    0.10.7 importing deepspeed.runtime.fp16.onebit); when it stops failing, the
    workaround can go."""
    from mmengine._strategy.deepspeed import register_deepspeed_optimizers
    with pytest.raises(ModuleNotFoundError, match='onebit'):
        register_deepspeed_optimizers()


def test_sharded_clip_matches_clip_grad_norm_in_one_process():
    from mmgpt.engine import sharded_clip_grad_norm_

    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    for p, q in zip(a, b):
        p.grad = torch.randn(5, 3) * 3
        q.grad = p.grad.clone()
    norm_a = torch.nn.utils.clip_grad_norm_(a, 1.0)
    norm_b = sharded_clip_grad_norm_(b, 1.0)
    assert torch.allclose(norm_a, norm_b)
    for p, q in zip(a, b):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)


# ------------------------------------------------------- multi-process, slow
def _dist_train(tmp_path, cfg, nproc, work_dir, *args):
    run(['bash', str(REPO / 'tools' / 'dist_train.sh'), cfg, str(nproc), '--work-dir',
         str(tmp_path / work_dir), *args], cwd=tmp_path, timeout=300,
        PORT=_free_port(), PYTHON=_python())


def _resume_copy(tmp_path, src, ckpt, dst='resumed'):
    (tmp_path / dst).mkdir()
    (tmp_path / dst / ckpt).write_bytes((tmp_path / src / ckpt).read_bytes())
    return str(tmp_path / dst / ckpt)


@pytest.mark.slow
def test_fsdp_two_cpu_processes_match_ddp(tmp_path):
    """Cost: about 2 min on 2 shared cores (two 2-process runs of 11 iterations).

    Same data, seed and recipe (accumulation 4, clipping 1.0): FSDP's trainable weights
    equal DDP's to 1e-6 absolute and to 1% of how far training moved them.
    """
    sizes = write_data_tree(tmp_path, per_dataset=3)  # 21 VL samples: 11 iters per rank
    last = f"iter_{-(-sizes['vl'] // 2)}.pth"
    _dist_train(tmp_path, _tiny_config(tmp_path / 'ddp.py', None), 2, 'ddp')
    _dist_train(tmp_path, _tiny_config(tmp_path / 'fsdp.py', 'fsdp'), 2, 'fsdp')
    ddp_w, fsdp_w = _weights(tmp_path / 'ddp' / last), _weights(tmp_path / 'fsdp' / last)
    moved = _max_diff(fsdp_w, _weights(tmp_path / 'fsdp' / 'iter_4.pth'))
    assert moved > 1e-5
    assert _max_diff(ddp_w, fsdp_w) <= min(1e-6, 0.01 * moved)
    _assert_trainable_only_and_chat_readable(tmp_path / 'fsdp' / last)


@pytest.mark.slow
def test_fsdp_resume_one_process_is_exact(tmp_path):
    """Cost: 1-2.5 min (two 1-process runs of 21 iterations). Resumed at iteration 8,
    the run ends (after 3 more updates, the last a partial window) equal to 1e-6."""
    sizes = write_data_tree(tmp_path, per_dataset=3)
    cfg = _tiny_config(tmp_path / 'fsdp.py', 'fsdp')
    _dist_train(tmp_path, cfg, 1, 'full')
    _dist_train(tmp_path, cfg, 1, 'resumed', '--resume',
                _resume_copy(tmp_path, 'full', 'iter_8.pth'))
    last = f"iter_{sizes['vl']}.pth"
    full = _weights(tmp_path / 'full' / last)
    assert _max_diff(full, _weights(tmp_path / 'full' / 'iter_8.pth')) > 1e-5
    assert _max_diff(full, _weights(tmp_path / 'resumed' / last)) <= 1e-6


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    'known, unresolved: resumed in 2 FSDP processes, the self-attention LoRA B weights '
    'end up to ~5e-5 (a third of one update) from the uninterrupted run, although the '
    'restored weights, moments and steps check out on every rank'))
def test_fsdp_resume_two_processes_is_exact(tmp_path):
    """Cost: about 2 min (two 2-process runs of 11 iterations)."""
    sizes = write_data_tree(tmp_path, per_dataset=3)
    last = f"iter_{-(-sizes['vl'] // 2)}.pth"
    cfg = _tiny_config(tmp_path / 'fsdp.py', 'fsdp')
    _dist_train(tmp_path, cfg, 2, 'full')
    _dist_train(tmp_path, cfg, 2, 'resumed', '--resume',
                _resume_copy(tmp_path, 'full', 'iter_4.pth'))
    assert _max_diff(_weights(tmp_path / 'full' / last),
                     _weights(tmp_path / 'resumed' / last)) <= 1e-6


@pytest.mark.slow
@pytest.mark.parametrize('stage, nproc, resume_at', [('deepspeed_zero2', 1, 8),
                                                     ('deepspeed_zero3', 2, 4)])
def test_deepspeed_checkpoint_is_trainable_only_and_resume_is_exact(tmp_path, stage, nproc,
                                                                    resume_at):
    """Cost: ZeRO-2 in one process 1-4 min, ZeRO-3 in two processes about 2.5 min (2 loaded cores).

    bf16 on DeepSpeed's CPU accelerator. The checkpoint holds the gathered fp32 master
    weights (trainable only, readable by tools/chat.py); resuming from a checkpoint
    with optimizer updates still to come ends with exactly the weights of the
    uninterrupted run.
    """
    sizes = write_data_tree(tmp_path, per_dataset=3)
    iters = -(-sizes['vl'] // nproc)
    cfg = _tiny_config(tmp_path / 'ds.py', stage)

    def train(work_dir, *args):
        if nproc == 1:
            run(train_cmd(cfg, tmp_path / work_dir, *args), cwd=tmp_path, timeout=300)
        else:
            run(['bash', str(REPO / 'tools' / 'dist_train.sh'), cfg, str(nproc),
                 '--work-dir', str(tmp_path / work_dir), *args], cwd=tmp_path, timeout=300,
                PORT=_free_port(), PYTHON=_python())

    train('full')
    last = tmp_path / 'full' / f'iter_{iters}.pth'
    _assert_trainable_only_and_chat_readable(last)
    full = _weights(last)
    ckpt = f'iter_{resume_at}.pth'
    assert _max_diff(full, _weights(tmp_path / 'full' / ckpt)) > 1e-6  # updates follow
    (tmp_path / 'resumed').mkdir()
    (tmp_path / 'resumed' / ckpt).write_bytes((tmp_path / 'full' / ckpt).read_bytes())
    train('resumed', '--resume', str(tmp_path / 'resumed' / ckpt))
    assert _max_diff(full, _weights(tmp_path / 'resumed' / f'iter_{iters}.pth')) <= 1e-6
