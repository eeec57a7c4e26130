"""The ``predict`` mode of :class:`~mmgpt.models.MultiModalGPT`: evaluation data samples
in, generated answers out, through the same template and ``generate`` as chat.

Each input data sample (from :class:`~mmgpt.datasets.benchmarks.PackEvalInputs`) holds a
conversation whose last turn is the question, and its image tensor. The prompt is the
template's chat prompt (:func:`mmgpt.templates.chat_prompt` + ``encode_segments``, token
for token what :class:`~mmgpt.inference.ChatEngine` sends), prompts of a batch are
left-padded, vision-language and language-only samples are generated separately, and
the answer is cut at the template's stop words and stripped, as in chat.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.structures import BaseDataElement

from mmgpt.templates import (
    chat_prompt,
    cut_at_stop_words,
    encode_segments,
    get_stop_words,
    segments_to_text,
)

__all__ = ['model_template', 'left_pad', 'predict_samples']


def model_template(model) -> str:
    """The template a model was trained with (``model.template``; ``'mmgpt'`` for models
    built before the model config declared it). The one place evaluation reads it."""
    return getattr(model, 'template', 'mmgpt')


def left_pad(sequences: Sequence[list], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token lists: ``(input_ids, attention_mask)``, both ``(B, L_max)``.

    Args:
        sequences (Sequence[list]): Token ids per sample.
        pad_id (int): The pad token id.
    """
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, length - len(seq):] = torch.as_tensor(seq, dtype=torch.long)
            mask[row, length - len(seq):] = 1
    return ids, mask


def _conversation(sample: BaseDataElement) -> dict:
    conv = sample.metainfo.get('conversation')
    if not isinstance(conv, dict) or not conv.get('turns'):
        raise ValueError(f'data sample {sample.metainfo.get("id", "?")!r} has no '
                         '`conversation`; build evaluation samples with PackEvalInputs')
    return conv


def predict_samples(model, data_samples: Sequence[BaseDataElement],
                    **generate_kwargs) -> list[BaseDataElement]:
    """Answer the question of every data sample.

    Args:
        model (MultiModalGPT): The model (its ``tokenizer``, ``generate`` and
            ``generation_cfg``, which the config sets).
        data_samples (Sequence[BaseDataElement]): From ``PackEvalInputs``.
        **generate_kwargs: Over ``model.generation_cfg``.

    Returns:
        list[BaseDataElement]: One per input, in order: the input's metainfo without the
        conversation, plus ``pred_text`` (the answer) and ``prompt`` (the exact prompt
        text, ``<BOS>``/``<image>`` shown).
    """
    template = model_template(model)
    stop_words = get_stop_words(template)
    tokenizer = model.tokenizer
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id
    device = next(model.parameters()).device
    outputs: list = [None] * len(data_samples)
    with_image = [i for i, s in enumerate(data_samples) if 'image' in s]
    without = [i for i, s in enumerate(data_samples) if 'image' not in s]
    for group in (with_image, without):
        if not group:
            continue
        segments = [chat_prompt(_conversation(data_samples[i]), template) for i in group]
        ids, mask = left_pad([encode_segments(s, tokenizer)[0] for s in segments], pad_id)
        images = None
        if group is with_image:
            images = torch.stack([data_samples[i].image for i in group])[:, None, None]
            images = images.to(device)
        new = model.generate(ids.to(device), mask.to(device), images, **generate_kwargs)
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
        for i, segs, text in zip(group, segments, texts):
            meta = {k: v for k, v in data_samples[i].metainfo.items() if k != 'conversation'}
            out = BaseDataElement(metainfo=meta)
            out.pred_text = cut_at_stop_words(text, stop_words).strip()
            out.prompt = segments_to_text(segs)
            outputs[i] = out
    return outputs
