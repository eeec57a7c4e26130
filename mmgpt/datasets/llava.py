"""LLaVA-Instruct-150K: detailed descriptions, complex reasoning, multi-turn dialogues."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, get_list, make_turn

__all__ = ['LlavaDataset', 'LlavaDialDataset', 'IMAGE_MARKER']

#: The placeholder LLaVA puts in the first human turn; the template places the image.
IMAGE_MARKER = '<image>'
_ROLES = (('human', 'user'), ('gpt', 'assistant'))


def _message(messages: list, position: int) -> str:
    """The text of message ``position``, checking it comes from the expected speaker."""
    message = messages[position]
    speaker = get_field(message, 'from')
    expected = _ROLES[position % 2]
    if speaker not in expected:
        raise RecordError(
            f"key 'conversations': expected turns alternating human/gpt starting with "
            f'human, got {speaker!r} at position {position}')
    return get_field(message, 'value')


def parse_llava_turns(messages: list, max_turns: int | None = None) -> list[dict]:
    """Pair LLaVA messages into turns: message ``2k`` (human) with ``2k + 1`` (gpt).

    ``<image>`` markers are removed from the first human message (they stand before or
    after the question, with a newline); one anywhere else is an error because the
    template places the single image of a conversation itself.

    Args:
        messages (list): The record's ``conversations`` list.
        max_turns (int, optional): Keep the first this many turns. Defaults to None
            (all).

    Returns:
        list[dict]: The turns, in order.
    """
    for position in range(len(messages)):
        _message(messages, position)  # the speakers first: an odd count may come from them
    if len(messages) % 2:
        raise RecordError(f"key 'conversations': expected human/gpt pairs, got "
                          f'{len(messages)} messages (the last has no answer)')
    turns = []
    for k in range(len(messages) // 2):
        question = _message(messages, 2 * k)
        answer = _message(messages, 2 * k + 1)
        if k == 0:
            question = question.replace(IMAGE_MARKER, '')
        if IMAGE_MARKER in question or IMAGE_MARKER in answer:
            raise RecordError(f"key 'conversations': expected {IMAGE_MARKER!r} only in the "
                              f'first human message, found it in turn {k}')
        turns.append(make_turn(question, answer))
    return turns[:max_turns]


@DATASETS.register_module()
class LlavaDataset(ConversationDataset):
    """LLaVA-Instruct-150K ``detail_23k.json`` and ``complex_reasoning_77k.json``.

    A JSON list of records; images are COCO train2014/2017 files named
    ``000000033471.jpg``, joined with ``img_prefix``::

        [{"id": "000000033471",
          "image": "000000033471.jpg",
          "conversations": [
            {"from": "human", "value": "<image>\\nWhat are the colors of the bus in the image?"},
            {"from": "gpt", "value": "The bus in the image is white and red."}]}]

    These files hold one human/gpt pair per record; a record with more keeps them all
    (the parsing is the one of :class:`LlavaDialDataset`: message ``2k`` is the human
    question of turn ``k``, message ``2k + 1`` the answer). Messages that do not
    alternate human/gpt, or an odd count, are bad records.

    Args:
        max_turns (int, optional): Keep only the first this many turns of each record.
            Defaults to None (all).
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, max_turns: int | None = None, **kwargs):
        self.max_turns = max_turns
        super().__init__(*args, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        messages = get_list(record, 'conversations', dict, min_len=2)
        turns = parse_llava_turns(messages, self.max_turns)
        return self.conversation(ref, turns, image=get_field(record, 'image'),
                                 id=get_field(record, 'id', (str, int), default=ref.key))


@DATASETS.register_module()
class LlavaDialDataset(LlavaDataset):
    """LLaVA-Instruct-150K ``conversation_58k.json``: multi-turn dialogues on one image.

    The record format is the one of :class:`LlavaDataset`, with several pairs::

        [{"id": "000000215677",
          "image": "000000215677.jpg",
          "conversations": [
            {"from": "human", "value": "What skateboarding trick is the man performing?\\n<image>"},
            {"from": "gpt", "value": "The man is performing a jump..."},
            {"from": "human", "value": "Is the man wearing any protective gear?"},
            {"from": "gpt", "value": "No, the man is not wearing..."}]}]

    Turn ``k`` is (message ``2k``, message ``2k + 1``) = (human, gpt); every turn is
    kept in order. (The original release paired message ``k`` with ``k + 1``, which
    swapped roles and dropped half of each dialogue.)

    Args:
        **kwargs: :class:`LlavaDataset` arguments.
    """
