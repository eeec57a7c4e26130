"""MiniGPT-4's cc_sbu_align: 3,500 curated detailed image descriptions."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import RecordRef, get_field, get_text
from .coco_caption import CaptionDataset

__all__ = ['CcSbuAlignDataset']


@DATASETS.register_module()
class CcSbuAlignDataset(CaptionDataset):
    """MiniGPT-4 ``cc_sbu_align/filter_cap.json``.

    An object with an ``annotations`` list; the image of ``image_id`` is
    ``<image_id>.jpg`` below ``img_prefix`` (set it to the release's ``image`` folder)::

        {"annotations": [
          {"image_id": "2",
           "caption": "The image shows a man fishing on a lawn next to a river..."}]}

    Each caption answers an instruction drawn (seeded per record) from ``requests``.

    Args:
        **kwargs: :class:`~mmgpt.datasets.coco_caption.CaptionDataset` arguments.
    """

    def records(self, data: Any):
        """The records of the ``annotations`` list."""
        return self.list_records(get_field(data, 'annotations', list),
                                 what="'annotations'")

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        image_id = str(get_field(record, 'image_id', (str, int)))
        return self.caption(ref, f'{image_id}.jpg', get_text(record, 'caption'),
                            self.rng(ref), id=image_id)
