"""Mixed precision helpers: frozen weights in half precision, trainable ones in fp32."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ['cast_frozen_to', 'resolve_dtype']


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Turn ``'bfloat16'``/``'bf16'``/``'float16'``/``'fp16'``/``'float32'`` into a dtype.

    Args:
        dtype (str | torch.dtype): A name or a dtype.

    Returns:
        torch.dtype: The floating dtype.
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    aliases = dict(bf16='bfloat16', fp16='float16', half='float16', fp32='float32')
    resolved = getattr(torch, aliases.get(dtype, dtype), None)
    if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
        raise ValueError(f'unknown floating dtype {dtype!r}; use bfloat16, float16 or float32')
    return resolved


def cast_frozen_to(model: nn.Module, dtype: str | torch.dtype) -> int:
    """Cast every frozen floating-point parameter to ``dtype``, in place.

    Trainable parameters (``requires_grad=True``) stay in fp32 so that the optimizer
    updates them at full precision. Buffers are left alone (they are small, and a
    rotary ``inv_freq`` in bf16 loses precision), and so are integer tensors.

    Args:
        model (nn.Module): The model, not yet wrapped by DDP.
        dtype (str | torch.dtype): The half-precision dtype.

    Returns:
        int: The number of frozen parameter elements cast.
    """
    dtype = resolve_dtype(dtype)
    cast = 0
    for param in model.parameters():
        if not param.requires_grad and param.is_floating_point():
            param.data = param.data.to(dtype)
            cast += param.numel()
    return cast
