"""Collate packed samples into the model's ``vl`` / ``lang`` input dicts."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS

from mmgpt.registry import FUNCTIONS
from mmgpt.templates import IGNORE_INDEX

__all__ = ['mmgpt_collate', 'pad_sequences']


def pad_sequences(seqs: Sequence[torch.Tensor], value: int) -> torch.Tensor:
    """Right-pad 1-D tensors to the longest one: ``(B, L_max)``."""
    out = seqs[0].new_full((len(seqs), max(len(s) for s in seqs)), value)
    for i, seq in enumerate(seqs):
        out[i, :len(seq)] = seq
    return out


def _text_batch(samples: list, pad_token_id: int) -> dict:
    ids = [s['input_ids'] for s in samples]
    mask = pad_sequences([torch.ones_like(t) for t in ids], 0)
    return dict(input_ids=pad_sequences(ids, pad_token_id), attention_mask=mask,
                labels=pad_sequences([s['labels'] for s in samples], IGNORE_INDEX))


def _vl_batch(samples: list, pad_token_id: int) -> dict:
    for s in samples:
        if s.get('image') is None:
            raise ValueError(f'vision-language sample of {s.get("dataset")} has no image')
    batch = _text_batch(samples, pad_token_id)
    # open_flamingo's layout: (B, T_img images per sample, F frames, C, H, W).
    batch['images'] = torch.stack([s['image'] for s in samples])[:, None, None]
    return batch


@FUNCTIONS.register_module()
def mmgpt_collate(data_batch: Sequence[dict], pad_token_id: int) -> dict:
    """Split a batch by modality, pad and stack it.

    Config: ``collate_fn=dict(type='mmgpt_collate', pad_token_id=...)`` (MMEngine
    binds the extra keys with ``functools.partial``). ``Runner.build_dataloader`` looks
    the name up in MMEngine's root ``FUNCTIONS`` registry, ignoring the default scope,
    so the function is registered there too; ``'mmgpt.mmgpt_collate'`` also works.

    Args:
        data_batch (Sequence[dict]): Samples from ``PackInputs``.
        pad_token_id (int): The tokenizer's pad id (right padding of ``input_ids``).

    Returns:
        dict: ``dict(vl=..., lang=...)``, each None when the batch has no sample of that
        modality. ``vl``: ``input_ids``, ``attention_mask``, ``labels`` (LongTensors
        ``(B, L)``; mask 0 and label -100 on padding) and ``images``
        (``(B, 1, 1, 3, H, W)`` float). ``lang``: the same without ``images``.
    """
    by_modality = {'vl': [], 'lang': []}
    for sample in data_batch:
        if sample['modality'] not in by_modality:
            raise ValueError(f"unknown modality {sample['modality']!r}; expected 'vl' "
                             "or 'lang'")
        by_modality[sample['modality']].append(sample)
    vl, lang = by_modality['vl'], by_modality['lang']
    return dict(vl=_vl_batch(vl, pad_token_id) if vl else None,
                lang=_text_batch(lang, pad_token_id) if lang else None)


# Runner.build_dataloader resolves collate functions in the root registry only.
if 'mmgpt_collate' not in MMENGINE_FUNCTIONS.module_dict:
    MMENGINE_FUNCTIONS.register_module('mmgpt_collate', module=mmgpt_collate)
