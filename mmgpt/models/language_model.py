"""The language model, from a local directory or a config dict (random init)."""
from __future__ import annotations

import os

import torch
from torch import nn

__all__ = ['build_language_model']


def build_language_model(cfg: dict, vocab_size: int) -> nn.Module:
    """Build a Hugging Face causal LM and size its embeddings for the tokenizer.

    Args:
        cfg (dict): Either ``dict(path='checkpoints/llama-7b_hf', torch_dtype=None)``
            (``from_pretrained`` on a local directory) or ``dict(config=dict(
            model_type='llama', hidden_size=..., ...))`` for a randomly initialised
            model. ``decoder_layers_attr`` and ``cross_attn`` keys are ignored here.
        vocab_size (int): ``len(tokenizer)``; embeddings are resized to it (mean-
            initialised new rows, as transformers does).

    Returns:
        nn.Module: The causal LM.
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    path, config = cfg.get('path'), cfg.get('config')
    if (path is None) == (config is None):
        raise ValueError('lang_model needs exactly one of `path` (a local directory) or '
                         f'`config` (a dict with model_type), got {sorted(cfg)}')
    if path is not None:
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f'language model directory {path!r} does not exist; mmgpt loads models '
                'from local disk only (see docs/install.md for the expected tree)')
        dtype = cfg.get('torch_dtype')
        lm = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True,
            dtype=getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    else:
        config = dict(config)
        model_type = config.pop('model_type')
        lm = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **config))
    if lm.get_input_embeddings().num_embeddings != vocab_size:
        lm.resize_token_embeddings(vocab_size)
    return lm
