"""Reading weight files safely, canonical parameter names and strict key checks.

Model files are read with ``torch.load(weights_only=True)`` or safetensors, never as
arbitrary pickles (the original release unpickled a config object from its checkpoints).
"""
from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterable

import torch
from torch import nn

from mmgpt.utils.fileio import atomic_write_bytes

__all__ = ['CheckpointKeyError', 'UnsafeCheckpointError', 'load_weights_file',
           'save_weights_file', 'canonical_names', 'check_keys']

#: Containers in which training scripts nest a state dict.
_NESTED_KEYS = ('state_dict', 'model_state_dict', 'model')


class CheckpointKeyError(KeyError):
    """A checkpoint's keys do not match the model's; the message lists them."""

    def __str__(self):  # KeyError would print the message repr()-quoted
        return str(self.args[0])


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A weight file contains pickled Python objects other than tensors."""


def load_weights_file(path: str) -> dict[str, torch.Tensor]:
    """Load a state dict from ``.safetensors`` or a ``torch.save`` file, safely.

    A ``torch.save`` file is read with ``weights_only=True``: a pickle that would
    construct arbitrary objects (and so could run code) is refused. A state dict
    nested under ``state_dict`` / ``model_state_dict`` / ``model`` is unwrapped, and a
    ``module.`` prefix that every key carries (saved from a DDP wrapper) is removed.

    Args:
        path (str): The file.

    Returns:
        dict[str, torch.Tensor]: The tensors by name.

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If the file needs unpickling of non-tensor objects.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'weight file {path!r} does not exist')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f'refusing to load {path!r}: it contains pickled Python objects, not only '
            'tensors, and unpickling them could run code. Convert it to safetensors or '
            f'a plain state dict in a trusted environment. (torch said: {err})') from None
    for key in _NESTED_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path!r} does not hold a state dict of tensors '
                         f'(found {type(obj).__name__})')
    if obj and all(k.startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return obj


def save_weights_file(state: dict[str, torch.Tensor], path: str) -> None:
    """Write a state dict as ``.safetensors``, crash-safe (old file or new, never half).

    Args:
        state (dict[str, torch.Tensor]): The tensors by name.
        path (str): The target, ending in ``.safetensors``; its folder is created.
    """
    from safetensors.torch import save

    if not str(path).endswith('.safetensors'):
        raise ValueError(f'weights are written as .safetensors, got {path!r}')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = save({k: v.contiguous() for k, v in state.items()}, metadata={'format': 'pt'})
    atomic_write_bytes(data, path)


def canonical_names(module: nn.Module) -> dict[str, str]:
    """Map every state-dict name of ``module`` to one canonical name per tensor.

    Modules reachable under several names (open_flamingo keeps
    ``old_decoder_blocks`` and ``gated_cross_attn_layers`` as aliases of the wrapped
    layers) put each tensor into ``state_dict()`` several times; the canonical name is
    the first, the one ``named_parameters()`` / ``named_buffers()`` report.

    Returns:
        dict[str, str]: ``{any name: canonical name}`` (canonical names map to themselves).
    """
    first: dict[int, str] = {}
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        first.setdefault(id(tensor), name)
    mapping = {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        mapping[name] = first.get(id(tensor), name)
    return mapping


def _listing(keys: Iterable[str], limit: int = 20) -> str:
    keys = sorted(keys)
    shown = ', '.join(keys[:limit])
    return shown + (f', ... and {len(keys) - limit} more' if len(keys) > limit else '')


def check_keys(expected: Iterable[str], found: Iterable[str], source: str,
               allowed_missing: Iterable[str] = ()) -> None:
    """Raise if ``found`` has unknown keys, or misses keys not allowed to be missing.

    Args:
        expected (Iterable[str]): The keys the model needs.
        found (Iterable[str]): The keys the checkpoint has.
        source (str): What was loaded (a path), for the message.
        allowed_missing (Iterable[str]): Regular expressions (``re.match``) of keys that
            may be missing because they come from elsewhere (frozen weights).

    Raises:
        CheckpointKeyError: Naming the unexpected and the missing keys.
    """
    expected, found = set(expected), set(found)
    patterns = [re.compile(p) for p in allowed_missing]
    unexpected = found - expected
    missing = {k for k in expected - found if not any(p.match(k) for p in patterns)}
    problems = []
    if unexpected:
        problems.append(f'{len(unexpected)} unexpected key(s): {_listing(unexpected)}')
    if missing:
        problems.append(f'{len(missing)} missing key(s): {_listing(missing)}')
    if problems:
        raise CheckpointKeyError(
            f'checkpoint {source} does not match the model: ' + '; '.join(problems))
