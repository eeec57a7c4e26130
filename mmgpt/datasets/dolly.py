"""Databricks Dolly 15k: human-written language-only instructions."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordRef, get_text, make_turn

__all__ = ['DollyDataset']


@DATASETS.register_module()
class DollyDataset(ConversationDataset):
    """``databricks-dolly-15k.jsonl``: one JSON object per line, language-only.

    ::

        {"instruction": "When did Virgin Australia start operating?",
         "context": "Virgin Australia, the trading name of Virgin Australia Airlines Pty "
                    "Ltd, ... It commenced services on 31 August 2000 ...",
         "response": "Virgin Australia commenced services on 31 August 2000 ...",
         "category": "closed_qa"}

    ``context`` (often empty) becomes the turn's ``input``; ``image`` is None.

    Args:
        **kwargs: :class:`ConversationDataset` arguments (``img_prefix`` is unused).
    """

    modality = 'lang'
    file_format = 'jsonl'

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one line (see the class docstring)."""
        turn = make_turn(get_text(record, 'instruction'), get_text(record, 'response'),
                         input=get_text(record, 'context', default=''))
        return self.conversation(ref, [turn])
