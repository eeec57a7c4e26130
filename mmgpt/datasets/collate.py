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


def _pad_id(data_batch: Sequence[dict], pad_token_id: int | None) -> int:
    """The pad id: the one the samples' tokenizer recorded (or the explicit one)."""
    recorded = {s['pad_token_id'] for s in data_batch if s.get('pad_token_id') is not None}
    if len(recorded) > 1:
        raise ValueError(f'samples of one batch were tokenized with different pad ids '
                         f'{sorted(recorded)}: every dataset must use the model\'s tokenizer')
    if pad_token_id is None:
        if not recorded:
            raise ValueError('mmgpt_collate: the samples carry no pad_token_id (put '
                             'TokenizeConversation and PackInputs in the pipeline) and none '
                             'was given')
        return recorded.pop()
    if recorded and recorded != {pad_token_id}:
        raise ValueError(f'collate_fn.pad_token_id={pad_token_id} differs from the '
                         f'tokenizer\'s pad id {recorded.pop()}; leave it out of the config '
                         '(it is taken from the tokenizer)')
    return pad_token_id


@FUNCTIONS.register_module()
def mmgpt_collate(data_batch: Sequence[dict], pad_token_id: int | None = None) -> dict:
    """Split a batch by modality, pad and stack it.

    Config: ``collate_fn=dict(type='mmgpt_collate')`` (MMEngine binds extra keys with
    ``functools.partial``). ``Runner.build_dataloader`` looks the name up in MMEngine's
    root ``FUNCTIONS`` registry, ignoring the default scope, so the function is
    registered there too; ``'mmgpt.mmgpt_collate'`` also works.

    Args:
        data_batch (Sequence[dict]): Samples from ``PackInputs``.
        pad_token_id (int, optional): The pad id for ``input_ids`` (right padding).
            Defaults to None: the ``pad_token_id`` that ``TokenizeConversation``
            recorded on the samples (the model's tokenizer's), so configs never copy it.

    Returns:
        dict: ``dict(vl=..., lang=...)``, each None when the batch has no sample of that
        modality. ``vl``: ``input_ids``, ``attention_mask``, ``labels`` (LongTensors
        ``(B, L)``; mask 0 and label -100 on padding) and ``images``
        (``(B, 1, 1, 3, H, W)`` float). ``lang``: the same without ``images``.
    """
    pad_token_id = _pad_id(data_batch, pad_token_id)
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
