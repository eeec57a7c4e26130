"""Counters of the samples the data pipeline skips, drops or shortens.

Every event is counted in the process that runs the pipeline (the main process when
``num_workers=0``, else each DataLoader worker) and logged through MMEngine's current
logger as a WARNING line that carries the running count, e.g.::

    [mmgpt data] image_skipped: 3 so far in pid 4242; cannot read image 'a.jpg' ...

The first ``log_first`` events of a kind are all logged, then every ``log_every``-th,
so a broken data set cannot flood the training log. :func:`data_stats` returns the
counts of the current process (what a hook or a test can read).

Kinds used by mmgpt: ``image_skipped`` (missing, empty or unreadable image; the dataset
fetches another sample of the same dataset instead), ``no_supervised_tokens`` (nothing
left to learn after truncation; the sample is dropped and replaced the same way) and
``truncated`` (trailing turns cut to fit ``max_length``; the sample is kept).
"""
from __future__ import annotations

import logging
import os
from collections import Counter

from mmengine.logging import print_log

__all__ = ['count_event', 'data_stats', 'reset_data_stats']

_COUNTS: Counter = Counter()


def count_event(kind: str, message: str, level: int = logging.WARNING,
                log_first: int = 20, log_every: int = 100) -> int:
    """Count one event and log it (throttled).

    Args:
        kind (str): The event kind, such as ``'image_skipped'``.
        message (str): What happened, naming the file or sample.
        level (int): Log level. Defaults to ``logging.WARNING``.
        log_first (int): Log each of the first events. Defaults to 20.
        log_every (int): After that, log every n-th event. Defaults to 100.

    Returns:
        int: The count of this kind so far in this process.
    """
    _COUNTS[kind] += 1
    count = _COUNTS[kind]
    if count <= log_first or count % log_every == 0:
        print_log(f'[mmgpt data] {kind}: {count} so far in pid {os.getpid()}; {message}',
                  logger='current', level=level)
    return count


def data_stats() -> dict:
    """Counts of the events of this process, by kind."""
    return dict(_COUNTS)


def reset_data_stats() -> None:
    """Set every count back to zero (for tests)."""
    _COUNTS.clear()
