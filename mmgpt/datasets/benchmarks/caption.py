"""Caption test splits: COCO and Flickr30k Karpathy test (scored by
:class:`~mmgpt.evaluation.COCOCaption`)."""
from __future__ import annotations

import os.path as osp
import re
from typing import Any

from mmgpt.registry import DATASETS

from ..base import RecordError, RecordRef, get_field, get_list
from ..prompts import CAPTION_REQUESTS
from .base import EvalDataset

__all__ = ['CaptionEvalDataset', 'COCOKarpathyEvalDataset', 'Flickr30kKarpathyEvalDataset']


class CaptionEvalDataset(EvalDataset):
    """Karpathy-split caption files in either public form.

    The LAVIS form (``coco_karpathy_test.json``, ``flickr30k_test.json``), a list with
    the captions of each image, ``image`` relative to ``img_prefix``::

        [{"image": "val2014/COCO_val2014_000000391895.jpg",
          "caption": ["A man with a red helmet on a small moped on a dirt road. ", ...]}]

    Karpathy's own ``dataset_coco.json`` / ``dataset_flickr30k.json``: an object whose
    ``images`` list holds every split; only ``split`` (default ``'test'``) is kept, the
    image is ``[<filepath>/]<filename>`` below ``img_prefix``::

        {"images": [{"filepath": "val2014", "filename": "COCO_val2014_000000391895.jpg",
                     "split": "test", "cocoid": 391895,
                     "sentences": [{"raw": "A man with a red helmet ...", ...}, ...]}],
         "dataset": "coco"}

    One sample per image; ``references`` are its captions; ``id`` is the image id
    (:meth:`image_id`). The instruction is ``prompt`` (default: the first of the paper's
    caption requests, "Can you describe the image?"), or a record's own instruction
    in ``prompt_key`` when that is set and the record has it.

    Args:
        split (str): The split kept from a Karpathy file. Defaults to ``'test'``.
        prompt_key (str, optional): A record key holding that record's instruction (not
            part of the public formats; the demo's shapes world asks for its captions
            in several phrasings). Defaults to None.
        **kwargs: :class:`EvalDataset` arguments.
    """

    def __init__(self, *args, split: str = 'test', prompt: str = CAPTION_REQUESTS[0],
                 prompt_key: str | None = None, **kwargs):
        self.split = split
        self.prompt_key = prompt_key
        self.request = prompt
        super().__init__(*args, prompt='{question}', **kwargs)

    def records(self, data: Any):
        """The top-level list (LAVIS) or the ``images`` list (Karpathy)."""
        if isinstance(data, dict):
            return self.list_records(get_field(data, 'images', list), what="'images'")
        return self.list_records(data)

    def image_id(self, record: Any, image: str) -> Any:
        """The id of an image: the record's own id if it has one, else the file stem."""
        return osp.splitext(osp.basename(image))[0]

    def parse(self, record: Any, ref: RecordRef) -> dict | None:
        """One image and its captions."""
        if isinstance(record, dict) and 'sentences' in record:  # Karpathy's form
            if get_field(record, 'split') != self.split:
                return None
            name = get_field(record, 'filename')
            folder = get_field(record, 'filepath', str, '')
            image = f'{folder}/{name}' if folder else name
            captions = []
            for i, sentence in enumerate(get_list(record, 'sentences', dict)):
                raw = sentence.get('raw')
                if not isinstance(raw, str):
                    raise RecordError(f"key 'sentences': item {i} has no string 'raw'")
                captions.append(raw)
        else:
            image = get_field(record, 'image')
            captions = get_field(record, 'caption', (list, str))
            captions = [captions] if isinstance(captions, str) else get_list(record, 'caption')
        request = self.request
        if self.prompt_key:
            request = get_field(record, self.prompt_key, str, self.request)
        return self.question(ref, request, captions, image=image,
                             id=self.image_id(record, image))


@DATASETS.register_module()
class COCOKarpathyEvalDataset(CaptionEvalDataset):
    """COCO Caption, Karpathy test split (5,000 images); see :class:`CaptionEvalDataset`.

    The id is the COCO image id: ``cocoid`` or ``image_id`` when the record has one,
    else the number in the file name (``COCO_val2014_000000391895.jpg`` -> 391895).
    """

    def image_id(self, record: Any, image: str) -> Any:
        """The COCO image id."""
        for key in ('cocoid', 'image_id'):
            if isinstance(record.get(key), int):
                return record[key]
        digits = re.findall(r'\d+', osp.basename(image))
        if not digits:
            raise RecordError(f'image {image!r}: expected a COCO file name with the image '
                              'id (COCO_val2014_000000391895.jpg)')
        return int(digits[-1])


@DATASETS.register_module()
class Flickr30kKarpathyEvalDataset(CaptionEvalDataset):
    """Flickr30k, Karpathy test split (1,000 images); see :class:`CaptionEvalDataset`.

    The id is the file stem (``flickr30k-images/1007129816.jpg`` -> ``'1007129816'``).
    """
