"""Log tokens per second, counted from the batch's attention masks."""
from __future__ import annotations

import time

from mmengine.hooks import Hook

from mmgpt.registry import HOOKS

__all__ = ['TokenThroughputHook', 'count_tokens']


def count_tokens(data_batch) -> int:
    """Count the non-padding tokens of a joint batch (``vl`` and ``lang`` streams).

    Args:
        data_batch (dict): ``dict(vl=dict(attention_mask=...) or None, lang=...)``.

    Returns:
        int: The number of positions whose attention mask is set, over both streams.
    """
    if not isinstance(data_batch, dict):
        return 0
    total = 0
    for stream in data_batch.values():
        if isinstance(stream, dict) and stream.get('attention_mask') is not None:
            total += int(stream['attention_mask'].sum())
    return total


@HOOKS.register_module()
class TokenThroughputHook(Hook):
    """Record ``tokens_per_sec`` (this rank's tokens over the iteration's wall time).

    The value goes to the message hub as ``train/tokens_per_sec`` and is logged by
    ``LoggerHook`` with the other scalars, averaged over the logging window.
    Multiply by the world size for the whole job's throughput.
    """

    priority = 'NORMAL'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Start the clock."""
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Stop the clock and record tokens per second."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        runner.message_hub.update_scalar('train/tokens_per_sec',
                                         count_tokens(data_batch) / elapsed)
