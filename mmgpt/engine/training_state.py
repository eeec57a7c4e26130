"""Training state that a checkpoint carries besides weights: RNG and the message hub.

Everything here is turned into tensors and builtins before saving, so that a
checkpoint loads with ``torch.load(weights_only=True)`` and needs no allow-listed
class at all.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['get_rng_state', 'set_rng_state', 'pack_message_hub', 'unpack_message_hub']


def get_rng_state() -> dict:
    """Return the python, numpy, torch (and CUDA) RNG states as weights-only data.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, where CUDA is initialised, ``cuda``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(kind=kind, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached=float(cached)),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states saved by :func:`get_rng_state`.

    Args:
        state (dict): As returned by :func:`get_rng_state`.
    """
    random.setstate(_to_tuple(state['python']))
    npy = state['numpy']
    np.random.set_state((npy['kind'], npy['keys'].numpy().astype(np.uint32), npy['pos'],
                         npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _to_tuple(value):
    """Turn lists back into the nested tuples ``random.setstate`` requires."""
    if isinstance(value, (list, tuple)):
        return tuple(_to_tuple(v) for v in value)
    return value


def pack_message_hub(state: dict) -> dict:
    """Replace each ``HistoryBuffer`` by tensors and numpy scalars by python numbers.

    A pickled ``HistoryBuffer`` needs numpy globals and ``builtins.getattr`` (its
    statistics methods are pickled by reference); allow-listing ``getattr`` for
    ``weights_only`` loading would defeat its purpose, so we store the buffer's data.

    Args:
        state (dict): ``MessageHub.state_dict()``.

    Returns:
        dict: A copy whose ``log_scalars`` values are plain dicts of tensors.
    """
    packed = dict(state)
    # IterTimerHook stores `eta` as a numpy float: unpickling it would need numpy globals.
    packed['runtime_info'] = {key: value.item() if isinstance(value, np.generic) else value
                              for key, value in state['runtime_info'].items()}
    packed['log_scalars'] = {
        key: dict(log_history=torch.from_numpy(np.asarray(buf._log_history, np.float64)),
                  count_history=torch.from_numpy(np.asarray(buf._count_history, np.int64)),
                  max_length=buf.max_length)
        for key, buf in state['log_scalars'].items()
    }
    return packed


def unpack_message_hub(state: dict) -> dict:
    """Invert :func:`pack_message_hub` (buffers already unpacked are kept).

    Args:
        state (dict): A packed message hub state dict.

    Returns:
        dict: A state dict ``MessageHub.load_state_dict`` accepts.
    """
    unpacked = dict(state)
    unpacked['log_scalars'] = {
        key: value if isinstance(value, HistoryBuffer) else HistoryBuffer(
            value['log_history'].tolist(), value['count_history'].tolist(),
            value['max_length'])
        for key, value in state['log_scalars'].items()
    }
    return unpacked
