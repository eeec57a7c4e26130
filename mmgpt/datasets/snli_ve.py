"""SNLI-VE: visual entailment on Flickr30k images."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, get_text
from .prompts import ENTAILMENT_REQUEST

__all__ = ['SNLIVEDataset']

_LABELS = ('entailment', 'neutral', 'contradiction')


@DATASETS.register_module()
class SNLIVEDataset(ConversationDataset):
    """SNLI-VE ``snli_ve_train.jsonl`` (or dev/test): one JSON object per line.

    The premise is the Flickr30k image ``<Flickr30K_ID>.jpg`` below ``img_prefix``
    (``flickr30k_images``); the hypothesis is ``sentence2``::

        {"Flickr30K_ID": "3416050480", "pairID": "3416050480.jpg#4r1n",
         "sentence1": "A woman with a green headscarf ...",
         "sentence2": "the woman is very happy", "gold_label": "neutral", ...}

    The instruction is ``request`` with the hypothesis; the response the gold label.

    Args:
        request (str): The instruction, with ``{sentence}`` for the hypothesis.
            Defaults to :data:`~mmgpt.datasets.prompts.ENTAILMENT_REQUEST`.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    file_format = 'jsonl'

    def __init__(self, *args, request: str = ENTAILMENT_REQUEST, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        label = get_text(record, 'gold_label')
        if label not in _LABELS:
            raise RecordError(f"key 'gold_label': expected one of {_LABELS}, got {label!r}")
        image = f"{get_field(record, 'Flickr30K_ID', (str, int))}.jpg"
        instruction = self.request.format(sentence=get_text(record, 'sentence2'))
        return self.single_turn(ref, instruction, label, image=image,
                                id=get_field(record, 'pairID', str, ref.key))
