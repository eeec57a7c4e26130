"""Pack an evaluation sample into the data sample the model's ``predict`` mode reads."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mmgpt.registry import TRANSFORMS

__all__ = ['PackEvalInputs', 'EVAL_META_KEYS']

#: Fields of an evaluation conversation kept for the metrics and the predictions file.
EVAL_META_KEYS = ('id', 'split', 'source', 'question', 'references', 'choices',
                  'correct_choice_idx', 'difficult_direct_answer', 'answer_type',
                  'question_type', 'img_path')


@TRANSFORMS.register_module()
class PackEvalInputs(BaseTransform):
    """Make one :class:`~mmengine.structures.BaseDataElement` per evaluation sample.

    Required Keys:

    - turns (list[dict]): the conversation; the last turn is the question.
    - image (torch.Tensor | None): from ``LoadConversationImage``.

    Output: ``dict(data_samples=<BaseDataElement>)`` with metainfo ``conversation``
    (``dict(image=<path or None>, turns=...)``, what the model renders with its template)
    and the :data:`EVAL_META_KEYS` present, and the data field ``image`` (``(3, H, W)``)
    for vision-language samples. MMEngine's default ``pseudo_collate`` batches them into
    ``dict(data_samples=[...])``, the model's ``predict`` input.

    Args:
        meta_keys (Sequence[str]): Fields kept. Defaults to :data:`EVAL_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = EVAL_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Build the data sample."""
        image = results.get('image')
        if isinstance(image, str):
            raise TypeError(f'image {image!r} was not loaded: put LoadConversationImage '
                            'before PackEvalInputs in the pipeline')
        if 'turns' not in results:
            raise KeyError('PackEvalInputs needs a conversation (`turns`); use an '
                           'evaluation dataset')
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta['conversation'] = dict(image=results.get('img_path') if image is not None
                                    else None, turns=results['turns'])
        sample = BaseDataElement(metainfo=meta)
        if isinstance(image, torch.Tensor):
            sample.image = image
        return dict(data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
