"""Alpaca-GPT4: the Alpaca instructions answered by GPT-4, language-only."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordRef, get_text, make_turn

__all__ = ['AlpacaGPT4Dataset']


@DATASETS.register_module()
class AlpacaGPT4Dataset(ConversationDataset):
    """``alpaca_gpt4_data.json``: a JSON list, language-only.

    ::

        [{"instruction": "Give three tips for staying healthy.",
          "input": "",
          "output": "1. Eat a balanced and nutritious diet: ..."}]

    ``input`` (often empty) stays the turn's ``input``; ``output`` is the response.

    Args:
        **kwargs: :class:`ConversationDataset` arguments (``img_prefix`` is unused).
    """

    modality = 'lang'

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        turn = make_turn(get_text(record, 'instruction'), get_text(record, 'output'),
                         input=get_text(record, 'input', default=''))
        return self.conversation(ref, [turn])
