"""Distributed set-up on machines without CUDA (gloo), which MMEngine cannot do."""
from __future__ import annotations

import os
import subprocess

import torch
import torch.distributed as torch_dist

__all__ = ['init_cpu_dist']


def _slurm_env() -> None:
    """Fill torch's env:// variables from SLURM's, as MMEngine's slurm init does."""
    nodes = os.environ['SLURM_NODELIST']
    os.environ.setdefault(
        'MASTER_ADDR', subprocess.getoutput(f'scontrol show hostname {nodes} | head -n1'))
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def init_cpu_dist(launcher: str) -> bool:
    """Initialise a gloo process group when launched without CUDA.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` first and fails on a CPU
    build or a machine with no GPU (``AttributeError: module 'torch._C' has no
    attribute '_cuda_setDevice'``). With a group already initialised, the Runner skips
    its own ``init_dist``. With CUDA this does nothing and MMEngine proceeds as usual
    (nccl).

    Args:
        launcher (str): ``'none'``, ``'pytorch'`` (torchrun) or ``'slurm'``.

    Returns:
        bool: Whether a gloo group was initialised here.
    """
    if launcher == 'none' or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    if launcher == 'slurm':
        _slurm_env()
    elif launcher != 'pytorch':
        raise ValueError(f'launcher {launcher!r} is not supported on CPU; use pytorch or slurm')
    torch_dist.init_process_group(backend='gloo')
    return True
