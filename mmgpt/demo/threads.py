"""A fixed CPU thread count for the demo's tools: part of what makes two runs identical."""
from __future__ import annotations

import os

import torch

from mmgpt.utils.threads import THREADS_ENV, available_cores

__all__ = ['set_threads', 'demo_threads']


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads here and in the training processes started later.

    The thread count decides how float sums are split among threads, so two runs give
    the same weights only with the same count (on the same machine). The demo's tools
    fix it from their command line instead of taking the caller's environment or the
    machine's core count.

    Args:
        threads (int): Threads for torch (``torch.set_num_threads``) and, through
            ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, for child processes.

    Raises:
        ValueError: ``threads`` is below 1.
    """
    if threads < 1:
        raise ValueError(f'the thread count must be at least 1, got {threads}')
    for name in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)


def demo_threads() -> int:
    """The demo's default thread count: ``MMGPT_NUM_THREADS``, else ``min(2, cores)``.

    Unlike :func:`mmgpt.utils.threads.default_num_threads` it does not follow the
    machine's load, so two runs of the same command on the same machine repeat.
    """
    value = os.environ.get(THREADS_ENV, '').strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f'{THREADS_ENV}={value!r}: expected a positive integer')
        return int(value)
    return min(2, available_cores())
