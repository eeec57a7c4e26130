"""TextOCR: every word on an image, answered to "What text is in the image?"."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, get_text
from .prompts import OCR_REQUEST

__all__ = ['TextOCRDataset']

#: The transcription TextOCR gives an illegible word.
ILLEGIBLE = '.'


@DATASETS.register_module()
class TextOCRDataset(ConversationDataset):
    """TextOCR ``TextOCR_0.1_train.json`` / ``_val.json`` (COCO-like, keyed by id).

    One conversation per image; the image is ``file_name`` below ``img_prefix`` (the
    TextVQA/TextOCR image root, whose ``train/`` folder holds ``train_images``)::

        {"imgs": {"a4ea732cd3d5948a": {"id": "a4ea732cd3d5948a", "width": 840,
                  "height": 1024, "set": "train",
                  "file_name": "train/a4ea732cd3d5948a.jpg"}},
         "anns": {"a4ea732cd3d5948a_1": {"id": "a4ea732cd3d5948a_1",
                  "image_id": "a4ea732cd3d5948a", "bbox": [...], "points": [...],
                  "utf8_string": "Tiredness", "area": 1234.5}},
         "imgToAnns": {"a4ea732cd3d5948a": ["a4ea732cd3d5948a_1"]}}

    The response is the image's words in ``imgToAnns`` order joined by spaces, without
    the illegible ones (``"."``); an image without a legible word has nothing to learn
    and is skipped with a warning (so is an image missing from ``imgToAnns``).

    Args:
        request (str): The instruction. Defaults to
            :data:`~mmgpt.datasets.prompts.OCR_REQUEST`.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, request: str = OCR_REQUEST, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def records(self, data: Any):
        """One record per image: ``dict(image=<imgs entry>, ann_ids=[...], anns=...)``."""
        images = get_field(data, 'imgs', dict)
        anns = get_field(data, 'anns', dict)
        img_to_anns = get_field(data, 'imgToAnns', dict)
        for location, key, image in self.dict_records(images, what="'imgs'"):
            yield location, key, {'image': image, 'ann_ids': img_to_anns.get(key, []),
                                  'anns': anns}

    def parse(self, record: dict, ref: RecordRef) -> dict:
        """Parse one image (see the class docstring)."""
        file_name = get_field(record['image'], 'file_name')
        ann_ids = record['ann_ids']
        if not isinstance(ann_ids, list):
            raise RecordError(f"imgToAnns[{ref.key!r}]: expected a list of annotation ids, "
                              f'got {type(ann_ids).__name__}')
        words = [self._word(record['anns'], ann_id) for ann_id in ann_ids]
        text = ' '.join(w for w in words if w and w != ILLEGIBLE)
        return self.single_turn(ref, self.request, text, image=file_name)

    @staticmethod
    def _word(anns: dict, ann_id: Any) -> str:
        """The stripped ``utf8_string`` of one annotation."""
        if not isinstance(ann_id, str) or ann_id not in anns:
            raise RecordError(f"imgToAnns lists annotation {ann_id!r}, expected a key of "
                              "'anns'")
        try:
            return get_text(anns[ann_id], 'utf8_string')
        except RecordError as e:
            raise RecordError(f'anns[{ann_id!r}]: {e}') from None
