"""Held-out instruction data as evaluation sets: the training readers, last response as
the reference (language-only Dolly / Alpaca-GPT4, scored by
:class:`~mmgpt.evaluation.InstructionMetric`; LLaVA-style dialogues)."""
from __future__ import annotations

from mmgpt.registry import DATASETS

from ..alpaca import AlpacaGPT4Dataset
from ..dolly import DollyDataset
from ..llava import LlavaDataset
from .base import LastTurnEvalMixin

__all__ = ['DollyEvalDataset', 'AlpacaGPT4EvalDataset', 'LlavaEvalDataset']


@DATASETS.register_module()
class DollyEvalDataset(LastTurnEvalMixin, DollyDataset):
    """Dolly-format JSONL (see :class:`~mmgpt.datasets.DollyDataset`); the response is
    the reference, the id the line's index. Args: :class:`EvalDataset`'s."""


@DATASETS.register_module()
class AlpacaGPT4EvalDataset(LastTurnEvalMixin, AlpacaGPT4Dataset):
    """Alpaca-GPT4-format JSON (see :class:`~mmgpt.datasets.AlpacaGPT4Dataset`); the
    output is the reference. Args: :class:`EvalDataset`'s."""


@DATASETS.register_module()
class LlavaEvalDataset(LastTurnEvalMixin, LlavaDataset):
    """LLaVA-Instruct-format JSON (see :class:`~mmgpt.datasets.LlavaDataset`): the last
    gpt message is the reference, the earlier turns are the dialogue history given to
    the model. Args: :class:`EvalDataset`'s and ``max_turns``."""
