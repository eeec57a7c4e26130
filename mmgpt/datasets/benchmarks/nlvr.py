"""NLVR2 dev / test-P (scored by :class:`~mmgpt.evaluation.ExactMatchAcc`)."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from ..base import RecordError, RecordRef, get_field, get_list, get_text
from ..prompts import TRUE_FALSE_REQUEST
from .base import EvalDataset

__all__ = ['NLVR2EvalDataset']

_LABELS = {'true': 'True', 'false': 'False', '1': 'True', '0': 'False'}


@DATASETS.register_module()
class NLVR2EvalDataset(EvalDataset):
    """NLVR2 in its raw JSONL form or in the LAVIS list form (``file_format`` decides).

    Raw (``dev.json``, ``test1.json``: one JSON object per line; ``file_format='jsonl'``,
    the default); the images are ``<pair>-img0.png`` / ``-img1.png`` below ``img_prefix``
    (the split's image folder), ``<pair>`` the identifier without its last ``-<n>``::

        {"sentence": "The right image shows a curving walkway ...", "label": "False",
         "identifier": "dev-850-0-0", "left_url": "...", "right_url": "...", ...}

    LAVIS (``nlvr_dev.json``: a JSON list; ``file_format='json'``)::

        [{"images": ["dev/dev-850-0-img0.png", "dev/dev-850-0-img1.png"],
          "sentence": "The right image shows a curving walkway ...", "label": "False"}]

    The reference is "True" or "False" (labels may also be 1 / 0). A conversation holds
    one image, so one side of the pair is shown (``side``); statements about both images
    may then not be decidable (the training reader has the same limit).

    Args:
        file_format (str): ``'jsonl'`` (raw) or ``'json'`` (LAVIS). Defaults to
            ``'jsonl'``.
        side (str): ``'left'`` or ``'right'``. Defaults to ``'left'``.
        prompt (str): Defaults to the training request
            ``'{question}\\nIs this statement true or false?'``.
        **kwargs: :class:`EvalDataset` arguments.
    """

    file_format = 'jsonl'

    def __init__(self, *args, file_format: str = 'jsonl', side: str = 'left',
                 prompt: str = TRUE_FALSE_REQUEST.replace('{sentence}', '{question}'),
                 **kwargs):
        if file_format not in ('json', 'jsonl'):
            raise ValueError(f"NLVR2EvalDataset: file_format must be 'json' or 'jsonl', "
                             f'got {file_format!r}')
        if side not in ('left', 'right'):
            raise ValueError(f"NLVR2EvalDataset: side must be 'left' or 'right', got {side!r}")
        self.file_format = file_format
        self.side = side
        super().__init__(*args, prompt=prompt, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One statement."""
        label = get_field(record, 'label', (str, int, bool))
        label = _LABELS.get(str(int(label)) if isinstance(label, (bool, int))
                            else label.strip().lower())
        if label is None:
            raise RecordError(f"key 'label': expected 'True' / 'False' (or 1 / 0), got "
                              f"{record['label']!r}")
        index = 0 if self.side == 'left' else 1
        if 'images' in record:
            image = get_list(record, 'images', str, min_len=2)[index]
            identifier = get_field(record, 'identifier', str, ref.key)
        else:
            identifier = get_field(record, 'identifier')
            if identifier.count('-') < 1:
                raise RecordError(f"key 'identifier': expected '<split>-<n>-<m>-<k>', got "
                                  f'{identifier!r}')
            image = f"{identifier.rsplit('-', 1)[0]}-img{index}.png"
            directory = get_field(record, 'directory', (str, int), None)
            image = image if directory is None else f'{directory}/{image}'
        return self.question(ref, get_text(record, 'sentence'), [label], image=image,
                             id=identifier)
