"""Baize: multi-turn language-only dialogues ChatGPT held with itself."""
from __future__ import annotations

import re
from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, make_turn

__all__ = ['BaizeDataset']

_SPEAKER = re.compile(r'\[\|(Human|AI)\|\]')


def split_baize_dialogue(text: str) -> list[dict]:
    """Split a Baize dialogue into turns (Human question, AI answer).

    The text before the first ``[|Human|]`` (the "The conversation between human and
    AI assistant." preamble) is dropped, and so is a final unanswered ``[|Human|]``
    (every file ends with an empty one). Text inside a message keeps its newlines;
    leading/trailing whitespace is stripped.

    Args:
        text (str): The record's ``input``.

    Returns:
        list[dict]: The turns, in order.
    """
    pieces = _SPEAKER.split(text)  # [preamble, speaker, message, speaker, message...]
    messages = list(zip(pieces[1::2], pieces[2::2]))
    if messages and messages[-1][0] == 'Human':
        messages.pop()
    if not messages:
        raise RecordError("key 'input': expected '[|Human|] ... [|AI|] ...' turns, found none")
    turns = []
    for k in range(0, len(messages), 2):
        pair = messages[k:k + 2]
        speakers = [speaker for speaker, _ in pair]
        if speakers != ['Human', 'AI']:
            raise RecordError(f"key 'input': expected messages alternating [|Human|]/[|AI|], "
                              f'got {"/".join(speakers)} at message {k}')
        turns.append(make_turn(pair[0][1], pair[1][1]))
    return turns


@DATASETS.register_module()
class BaizeDataset(ConversationDataset):
    """Baize chat data: a JSON list of dialogues, language-only.

    The files are ``alpaca_chat_data.json``, ``quora_chat_data.json``,
    ``stackoverflow_chat_data.json`` and ``medical_chat_data.json``:

    ::

        [{"topic": "What are the three primary colors?",
          "input": "The conversation between human and AI assistant.\\n[|Human|] What are "
                   "the three primary colors?\\n[|AI|] The three primary colors are red, "
                   "blue, and yellow.\\n[|Human|] Why?\\n[|AI|] ...\\n[|Human|] "}]

    Every Human/AI pair becomes a turn, in order (see :func:`split_baize_dialogue`);
    ``input`` of every turn is ''.

    Args:
        **kwargs: :class:`ConversationDataset` arguments (``img_prefix`` is unused).
    """

    modality = 'lang'

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        return self.conversation(ref, split_baize_dialogue(get_field(record, 'input')))
