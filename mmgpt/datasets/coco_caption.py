"""Captioning data: COCO Caption (LAVIS Karpathy splits), and the shared caption base."""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, make_turn
from .prompts import CAPTION_REQUESTS

__all__ = ['CaptionDataset', 'COCOCaptionDataset']


class CaptionDataset(ConversationDataset):
    """Base of captioning datasets: a caption answers a request drawn from a list.

    Args:
        requests (Sequence[str]): The instructions to draw from, one per conversation
            with the record's seeded generator. Defaults to
            :data:`~mmgpt.datasets.prompts.CAPTION_REQUESTS` (the paper's ten).
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, requests: Sequence[str] = CAPTION_REQUESTS, **kwargs):
        if isinstance(requests, str) or not requests:
            raise ValueError(f'{type(self).__name__}: requests must be a non-empty list of '
                             f'instructions, got {requests!r}')
        self.requests = tuple(requests)
        super().__init__(*args, **kwargs)

    def caption(self, ref: RecordRef, image: str, caption: str, rng: Any,
                id: Hashable | None = None) -> dict:
        """A one-turn conversation: a drawn request answered by ``caption``.

        Args:
            ref (RecordRef): The record.
            image (str): The image path relative to ``img_prefix``.
            caption (str): The caption.
            rng (random.Random): The record's generator (see
                :meth:`ConversationDataset.rng`).
            id (Hashable, optional): The conversation id. Defaults to ``ref.key``.
        """
        turn = make_turn(rng.choice(self.requests), caption)
        return self.conversation(ref, [turn], image=image, id=id)


@DATASETS.register_module()
class COCOCaptionDataset(CaptionDataset):
    """COCO Caption, Karpathy splits in the LAVIS format.

    ``coco_karpathy_train.json`` holds one caption per record (about five records per
    image); ``coco_karpathy_val.json`` and ``coco_karpathy_test.json`` hold a list of
    captions per image. ``image`` is relative to the COCO 2014 root (``img_prefix``)::

        [{"caption": "A woman wearing a net on her head cutting a cake. ",
          "image": "val2014/COCO_val2014_000000522418.jpg",
          "image_id": "coco_522418"}]

        [{"image": "val2014/COCO_val2014_000000391895.jpg",
          "caption": ["A man with a red helmet on a small moped on a dirt road. ", "..."]}]

    With a caption list, one caption is drawn per record (seeded), or each becomes its
    own conversation with ``all_captions=True`` (ids ``'<image_id>_<k>'``). The
    instruction is drawn from ``requests``. ``id`` is ``image_id``, or the record index
    when absent.

    Args:
        all_captions (bool): Expand a caption list into one conversation per caption.
            Defaults to False.
        **kwargs: :class:`CaptionDataset` arguments.
    """

    def __init__(self, *args, all_captions: bool = False, **kwargs):
        self.all_captions = all_captions
        super().__init__(*args, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> list[dict]:
        """Parse one record (see the class docstring)."""
        image = get_field(record, 'image')
        image_id = get_field(record, 'image_id', (str, int), default=ref.key)
        captions = get_field(record, 'caption', (str, list))
        rng = self.rng(ref)
        if isinstance(captions, str):
            return [self.caption(ref, image, captions, rng, id=image_id)]
        if not captions or not all(isinstance(c, str) for c in captions):
            raise RecordError("key 'caption': expected a string or a non-empty list of "
                              f'strings, got {captions!r:.60}')
        if not self.all_captions:
            return [self.caption(ref, image, rng.choice(captions), rng, id=image_id)]
        return [self.caption(ref, image, text, rng, id=f'{image_id}_{k}')
                for k, text in enumerate(captions)]
