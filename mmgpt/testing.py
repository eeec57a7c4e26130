"""Helpers for tests and benchmarks: the tiny model and ways to make it image-sensitive.

The tiny model is the one of ``configs/_base_/models/mmgpt_tiny.py`` (random init, builds
in seconds on a CPU, nothing downloaded).
"""
from __future__ import annotations

import copy
import os

import torch
from mmengine import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmgpt.registry import MODELS

__all__ = ['TINY_MODEL_CONFIG', 'tiny_model_cfg', 'build_tiny', 'open_gates',
           'randomize_lora', 'vl_prompt']

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The tiny model's config file (in the source tree).
TINY_MODEL_CONFIG = os.path.join(_REPO, 'configs', '_base_', 'models', 'mmgpt_tiny.py')


def tiny_model_cfg(**overrides) -> dict:
    """The tiny model config as a plain dict, with top-level keys replaced."""
    cfg = copy.deepcopy(Config.fromfile(TINY_MODEL_CONFIG).model.to_dict())
    cfg.update(overrides)
    return cfg


def build_tiny(seed: int = 0, **overrides):
    """Build the tiny MultiModalGPT (eval mode) with a fixed seed."""
    if DefaultScope.get_current_instance() is None:
        init_default_scope('mmgpt')
    torch.manual_seed(seed)
    return MODELS.build(tiny_model_cfg(**overrides)).eval()


def open_gates(model, value: float = 2.0):
    """Open every gated cross-attention (gates start at 0, where images do not matter)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('attn_gate') or name.endswith('ff_gate'):
                p.fill_(value)


def randomize_lora(model, seed: int = 1, scale: float = 0.1):
    """Give the LoRA B matrices random values (they start at 0: an identity adapter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.copy_(torch.randn(p.shape, generator=g) * scale)


def vl_prompt(model, question: str = 'What is in the picture?') -> torch.Tensor:
    """Token ids ``(1, L)`` of a prompt with text before and after ``<image>``."""
    tok = model.tokenizer
    text = ('Below is an instruction.\n\n### Image:\n<image>\n\n### Instruction:\n'
            f'{question}\n\n### Response:\n')
    return torch.tensor([[tok.bos_token_id] + tok.encode(text, add_special_tokens=False)])
