"""Train a MultiModal-GPT config with MMEngine.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options key=value ...] [--launcher none|pytorch|slurm]

A single process needs no distributed environment variables; tools/dist_train.sh and
tools/slurm_train.sh start one process per GPU (or per CPU rank, with gloo).

A mistake (missing file, unknown ``type``, wrong checkpoint...) ends in one line naming it
and exit status 2; ``--debug`` (or ``MMGPT_DEBUG=1``) shows the traceback. torch uses
the usable cores divided by the processes of this node (``--threads`` or
``MMGPT_NUM_THREADS`` to override).

The runner follows the config: a config with a ``strategy`` (DeepSpeed ZeRO or FSDP, e.g.
configs/mmgpt_joint_zero2.py) runs on ``MMGPTFlexibleRunner`` (MMEngine's
``FlexibleRunner``); any other on ``MMGPTRunner`` (DDP or one device).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmgpt.engine import MMGPTFlexibleRunner, MMGPTRunner  # noqa: E402
from mmgpt.utils.cli import (  # noqa: E402
    add_cfg_options_argument,
    add_debug_argument,
    load_config,
    run_cli,
)
from mmgpt.utils.threads import set_torch_threads  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(description='Train a MultiModal-GPT model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where to save logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or without a value from the latest checkpoint of the '
        'work dir (a fresh start when there is none)')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision on GPU: bf16 autocast (optim_wrapper.dtype=float16 for fp16 '
        'with a dynamic loss scaler), frozen weights stored in the same half precision')
    add_cfg_options_argument(parser)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads per process (default: usable cores / processes '
                        'on this node, or MMGPT_NUM_THREADS)')
    add_debug_argument(parser)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)  # torch.distributed.launch compatibility
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to ``AmpOptimWrapper`` and halve the frozen weights.

    bf16 by default; ``optim_wrapper.dtype='float16'`` selects fp16 with a dynamic loss
    scaler (fp16 without one underflows). Only on GPU: MMEngine's AMP needs CUDA.

    Args:
        cfg (Config): The config, modified in place.
    """
    import torch

    if not torch.cuda.is_available():
        raise ValueError('--amp needs a CUDA GPU (MMEngine AmpOptimWrapper); drop --amp on CPU')
    wrapper = cfg.optim_wrapper
    dtype = wrapper.get('dtype', 'bfloat16')
    wrapper.type = 'AmpOptimWrapper'
    wrapper.dtype = dtype
    wrapper.loss_scale = 'dynamic' if dtype in ('float16', 'fp16') else None
    if wrapper.loss_scale is None:
        wrapper.pop('loss_scale')
    cfg.model.frozen_dtype = dtype  # MultiModalGPT casts its frozen weights (cast_frozen_to)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Merge the command line into the config (mmpretrain's order of precedence).

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): The parsed arguments.

    Returns:
        Config: The same config, updated.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        if cfg.get('strategy') is not None:
            raise SystemExit(
                f'--amp is for DDP configs; {args.config} has a strategy, whose precision is '
                'in the config (DeepSpeed: strategy.bf16; FSDP: optim_wrapper.dtype and '
                'strategy.frozen_dtype)')
        enable_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main(argv: list[str] | None = None) -> None:
    """Build the runner from the config and train."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    cfg = merge_args(cfg, args)
    build_runner(cfg).train()


def build_runner(cfg: Config):
    """``MMGPTFlexibleRunner`` for a config with a ``strategy``, else ``MMGPTRunner``.

    Args:
        cfg (Config): The merged config.

    Returns:
        The runner, not yet training.
    """
    if cfg.get('strategy') is None:
        return MMGPTRunner.from_cfg(cfg)
    # FlexibleRunner builds the strategy before it sets the default scope: set it first
    # so that `type='MMGPTDeepSpeedStrategy'` resolves in mmgpt's registry.
    init_default_scope(cfg.get('default_scope', 'mmgpt'))
    return MMGPTFlexibleRunner.from_cfg(cfg)


if __name__ == '__main__':
    sys.exit(run_cli(main))
