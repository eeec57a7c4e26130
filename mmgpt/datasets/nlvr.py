"""NLVR (v1, synthetic images) and NLVR2 (photograph pairs): is a statement true?"""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, get_text
from .prompts import TRUE_FALSE_REQUEST

__all__ = ['NLVRv1Dataset', 'NLVRv2Dataset']

_LABELS = {'true': 'True', 'false': 'False'}


class _NLVRDataset(ConversationDataset):
    """Shared by NLVR v1 and v2: a JSONL file of statements with a true/false label.

    Args:
        request (str): The instruction, with ``{sentence}`` for the statement.
            Defaults to :data:`~mmgpt.datasets.prompts.TRUE_FALSE_REQUEST`.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    file_format = 'jsonl'

    def __init__(self, *args, request: str = TRUE_FALSE_REQUEST, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record: the statement, answered "True" or "False"."""
        label = get_field(record, 'label')
        if label.lower() not in _LABELS:
            raise RecordError(f"key 'label': expected 'true' or 'false', got {label!r}")
        instruction = self.request.format(sentence=get_text(record, 'sentence'))
        return self.single_turn(ref, instruction, _LABELS[label.lower()],
                                image=self.image(record, ref),
                                id=get_field(record, 'identifier'))

    def image(self, record: Any, ref: RecordRef) -> str:
        """The image path of a record, relative to ``img_prefix``."""
        raise NotImplementedError


@DATASETS.register_module()
class NLVRv1Dataset(_NLVRDataset):
    """NLVR (v1) ``train.json`` / ``dev.json`` / ``test.json``: one JSON object per line.

    Each statement comes with six renderings of its image,
    ``images/<directory>/<split>-<identifier>-<n>.png`` (``n`` from 0 to 5) below
    ``img_prefix`` (the split folder, such as ``nlvr/train``)::

        {"sentence": "There is a box with 2 triangles of same color nearly touching each other.",
         "label": "true", "identifier": "3297-0", "directory": "54",
         "evals": {...}, "structured_rep": [...]}

    The instruction is ``request`` with the sentence; the response "True" or "False".

    Args:
        split (str): The split name in image file names. Defaults to 'train'.
        image_index (int, optional): Which rendering to use; None draws one per record
            with its seeded generator. Defaults to None.
        **kwargs: ``request`` and :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, split: str = 'train', image_index: int | None = None,
                 **kwargs):
        if image_index is not None and image_index not in range(6):
            raise ValueError(f'NLVRv1Dataset: image_index must be 0..5 or None, '
                             f'got {image_index!r}')
        self.split = split
        self.image_index = image_index
        super().__init__(*args, **kwargs)

    def image(self, record: Any, ref: RecordRef) -> str:
        """``images/<directory>/<split>-<identifier>-<n>.png``."""
        index = self.image_index
        if index is None:
            index = self.rng(ref).randrange(6)
        directory = get_field(record, 'directory', (str, int))
        identifier = get_field(record, 'identifier')
        return f'images/{directory}/{self.split}-{identifier}-{index}.png'


@DATASETS.register_module()
class NLVRv2Dataset(_NLVRDataset):
    """NLVR2 ``train.json`` / ``dev.json`` / ``test1.json``: one JSON object per line.

    A statement is about a *pair* of photographs, ``<pair>-img0.png`` (left) and
    ``<pair>-img1.png`` (right), where ``<pair>`` is the identifier without its last
    ``-<n>``; they are in ``<directory>/`` when the record has a ``directory`` (train),
    below ``img_prefix`` (the split's image folder)::

        {"sentence": "The right image shows a curving walkway of dark glass circles "
                     "embedded in dirt and flanked by foliage.",
         "label": "False", "identifier": "dev-850-0-0", "synset": "...",
         "left_url": "https://...", "right_url": "https://...", "writer": "103"}

    Limitation: a conversation holds one image, so only one side is used (``side``);
    statements about both images may then be unanswerable from the image seen.

    Args:
        side (str): 'left' (``-img0``) or 'right' (``-img1``). Defaults to 'left'.
        **kwargs: ``request`` and :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, side: str = 'left', **kwargs):
        if side not in ('left', 'right'):
            raise ValueError(f"NLVRv2Dataset: side must be 'left' or 'right', got {side!r}")
        self.side = side
        super().__init__(*args, **kwargs)

    def image(self, record: Any, ref: RecordRef) -> str:
        """``[<directory>/]<pair>-img0.png`` (or ``-img1`` for the right side)."""
        identifier = get_field(record, 'identifier')
        if identifier.count('-') < 1:
            raise RecordError(f"key 'identifier': expected '<split>-<n>-<m>-<k>', "
                              f'got {identifier!r}')
        name = f"{identifier.rsplit('-', 1)[0]}-img{0 if self.side == 'left' else 1}.png"
        directory = get_field(record, 'directory', (str, int), default=None)
        return name if directory is None else f'{directory}/{name}'
