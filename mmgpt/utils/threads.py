"""Cap torch's intra-op threads so that processes x threads <= cores.

torch starts one intra-op thread per core in every process. Several processes on the
same cores (ranks of one job, the demo's stages beside other jobs) then oversubscribe
the CPU and each runs many times slower. Every entry point calls
:func:`set_torch_threads` first. DataLoader workers need nothing more: torch's worker
loop sets one thread in each worker itself (``torch.utils.data._utils.worker``), and
``env_cfg.mp_cfg.opencv_num_threads=0`` keeps OpenCV single-threaded.

Precedence: an explicit ``threads`` (a tool's ``--threads``), then ``MMGPT_NUM_THREADS``,
then ``OMP_NUM_THREADS`` (torchrun sets it to 1 per rank), then the usable cores divided
by the processes of this node (``LOCAL_WORLD_SIZE``, set by torchrun; else 1), and no
more than the cores that other work leaves idle (the 1-minute load average): on a
shared machine two OpenMP threads on two busy cores spend their time waiting for each
other at every barrier (the demo's smoke run took 5.6 minutes instead of 37 s).
"""
from __future__ import annotations

import os

__all__ = ['THREADS_ENV', 'available_cores', 'default_num_threads', 'set_torch_threads']

THREADS_ENV = 'MMGPT_NUM_THREADS'


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, '').strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f'{name}={value!r}: expected a positive integer') from None
    if number < 1:
        raise ValueError(f'{name}={value!r}: expected a positive integer')
    return number


def default_num_threads(processes: int | None = None) -> int:
    """The thread count :func:`set_torch_threads` would choose (see the module docstring).

    Args:
        processes (int, optional): Processes sharing this node's cores. Defaults to
            ``LOCAL_WORLD_SIZE`` or 1.
    """
    for name in (THREADS_ENV, 'OMP_NUM_THREADS'):
        number = _env_int(name)
        if number is not None:
            return number
    processes = processes or _env_int('LOCAL_WORLD_SIZE') or 1
    cores = available_cores()
    idle = cores - _load()
    return max(1, min(cores // processes, int(idle) // processes))


def _load() -> float:
    """Runnable processes on the machine, averaged over a minute (0 where unknown)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def set_torch_threads(threads: int | None = None, processes: int | None = None) -> int:
    """Set torch's intra-op thread count; returns it.

    Args:
        threads (int, optional): Use exactly this many (a tool's ``--threads``).
        processes (int, optional): Processes sharing the cores (see
            :func:`default_num_threads`).
    """
    import torch  # heavy: only when a tool sets its threads

    if threads is not None and threads < 1:
        raise ValueError(f'--threads must be a positive integer, got {threads}')
    number = threads or default_num_threads(processes)
    torch.set_num_threads(number)
    return number
