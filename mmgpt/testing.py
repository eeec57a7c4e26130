"""Helpers for tests and benchmarks: the tiny model and ways to make it image-sensitive.

The tiny model is the one of ``configs/_base_/models/mmgpt_tiny.py`` (random init, builds
in seconds on a CPU, nothing downloaded).
"""
from __future__ import annotations

import copy
import os

import torch

__all__ = ['TINY_MODEL_CONFIG', 'tiny_model_cfg', 'build_tiny', 'open_gates',
           'randomize_lora', 'vl_prompt', 'template_corpus_lines', 'llama_style_tokenizer_dir']

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The tiny model's config file (in the source tree).
TINY_MODEL_CONFIG = os.path.join(_REPO, 'configs', '_base_', 'models', 'mmgpt_tiny.py')


def tiny_model_cfg(**overrides) -> dict:
    """The tiny model config as a plain dict, with top-level keys replaced."""
    from mmengine import Config

    cfg = copy.deepcopy(Config.fromfile(TINY_MODEL_CONFIG).model.to_dict())
    cfg.update(overrides)
    return cfg


def build_tiny(seed: int = 0, **overrides):
    """Build the tiny MultiModalGPT (eval mode) with a fixed seed."""
    from mmengine.registry import DefaultScope, init_default_scope

    from mmgpt.registry import MODELS

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


_WORDS = ('cat dog red blue square circle image picture colour shape small large the a is '
          'what where which left right top bottom describe answer question response '
          'instruction input below task write request completes appropriately').split()


def template_corpus_lines(n: int = 300) -> list:
    """A few hundred deterministic lines in the template's vocabulary (no newlines)."""
    from mmgpt.templates import TEMPLATES

    lines = []
    for i in range(n):
        words = [_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(4 + i % 9)]
        lines.append(' '.join(words).capitalize() + ('?' if i % 3 else '.'))
        if i % 10 == 0:  # as in LLaMA, '\n' stays out of the pieces (a byte piece)
            lines += ['### Instruction:', '### Response:', '### Image:', '### Input:',
                      TEMPLATES['mmgpt'].system]
    return lines


def llama_style_tokenizer_dir(directory, lines: list | None = None,
                              vocab_size: int = 480) -> str:
    """Train a LLaMA-style sentencepiece model into ``directory`` (no download).

    BPE with byte fallback, identity normalisation and the ``▁`` dummy prefix, as
    LLaMA's ``tokenizer.model``; written as ``tokenizer.model`` with a
    ``tokenizer_config.json`` naming ``LlamaTokenizer``, so ``from_pretrained`` (and
    ``build_tokenizer(dict(type='pretrained', path=...))``) load it.

    Returns:
        str: The directory.
    """
    import json

    import sentencepiece as spm  # only for this helper

    os.makedirs(directory, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines or template_corpus_lines()),
        model_prefix=os.path.join(str(directory), 'tokenizer'), vocab_size=vocab_size,
        model_type='bpe', byte_fallback=True, character_coverage=1.0,
        normalization_rule_name='identity', add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
    with open(os.path.join(str(directory), 'tokenizer_config.json'), 'w') as f:
        json.dump(dict(tokenizer_class='LlamaTokenizer', bos_token='<s>', eos_token='</s>',
                       unk_token='<unk>'), f)
    return str(directory)
