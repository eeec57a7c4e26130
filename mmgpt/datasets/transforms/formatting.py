"""Pack a tokenized conversation into the sample the collate function expects."""
from __future__ import annotations

import torch
from mmcv.transforms import BaseTransform

from mmgpt.registry import TRANSFORMS

__all__ = ['PackInputs']


@TRANSFORMS.register_module()
class PackInputs(BaseTransform):
    """Keep the model inputs of a sample, as tensors.

    Required Keys:

    - input_ids (list[int]), labels (list[int]): from ``TokenizeConversation``.
    - image (Tensor | None): from ``LoadConversationImage`` (None: language-only).

    Optional Keys:

    - source (str): the dataset class name. Defaults to ``'unknown'``.
    - modality (str): ``'vl'`` or ``'lang'``; when absent, ``'vl'`` if there is an image.
    - text (str): the rendered text, kept only with ``keep_text=True``.
    - pad_token_id (int): the tokenizer's pad id, from ``TokenizeConversation``.

    Output (a new dict): ``input_ids`` (LongTensor ``(L,)``), ``labels`` (LongTensor
    ``(L,)``), ``image`` (``(3, H, W)`` float tensor; only for vision-language samples),
    ``modality``, ``dataset`` (source name), ``pad_token_id`` (when known) and, with
    ``keep_text``, ``text``.

    Args:
        keep_text (bool): Also output the rendered text (for browsing). Defaults to False.
    """

    def __init__(self, keep_text: bool = False) -> None:
        self.keep_text = keep_text

    def transform(self, results: dict) -> dict:
        """Build the packed sample."""
        image = results.get('image')
        if isinstance(image, str):
            raise TypeError(f'image {image!r} was not loaded: put LoadConversationImage '
                            'before PackInputs in the pipeline')
        modality = results.get('modality') or ('vl' if image is not None else 'lang')
        if modality == 'vl' and image is None:
            raise ValueError(f'vision-language sample {results.get("id", "?")!r} has no image')
        packed = dict(
            input_ids=torch.as_tensor(results['input_ids'], dtype=torch.long),
            labels=torch.as_tensor(results['labels'], dtype=torch.long),
            modality=modality,
            dataset=results.get('source', 'unknown'))
        if image is not None:
            packed['image'] = image
        if results.get('pad_token_id') is not None:
            packed['pad_token_id'] = results['pad_token_id']
        if self.keep_text and 'text' in results:
            packed['text'] = results['text']
        return packed

    def __repr__(self) -> str:
        return f'{type(self).__name__}(keep_text={self.keep_text})'
