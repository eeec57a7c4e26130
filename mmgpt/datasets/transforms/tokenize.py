"""Render a conversation with the unified template, tokenize it and mask the labels."""
from __future__ import annotations

from mmcv.transforms import BaseTransform

from mmgpt.registry import TRANSFORMS
from mmgpt.templates import (
    DEFAULT_TEMPLATE,
    IGNORE_INDEX,
    encode_segments,
    get_template,
    render,
    segments_to_text,
)
from mmgpt.tokenizer import build_tokenizer

from .stats import count_event

__all__ = ['TokenizeConversation', 'truncate_at_turn']


def truncate_at_turn(ids: list, labels: list, turns: list, max_length: int) -> tuple:
    """Cut a tokenized conversation to ``max_length`` tokens at a turn boundary.

    Whole trailing turns are dropped, so no kept response is cut mid-way. When even the
    first turn (with the system line and image) is longer than ``max_length``, its first
    ``max_length`` tokens are kept: the response is then cut and has no EOS, and the
    caller drops the sample if no supervised token is left.

    Args:
        ids (list[int]): Token ids.
        labels (list[int]): Labels, :data:`~mmgpt.templates.IGNORE_INDEX` where masked.
        turns (list[int]): The turn index of every token (non-decreasing).
        max_length (int): The most tokens to keep.

    Returns:
        tuple: ``(ids, labels, num_turns)``: the kept tokens and the number of turns
        they touch.
    """
    if len(ids) <= max_length:
        return ids, labels, (turns[-1] + 1 if turns else 0)
    # turns[max_length] is the first turn that does not fit entirely.
    first_cut = turns[max_length]
    if first_cut == 0:
        return ids[:max_length], labels[:max_length], 1
    end = turns.index(first_cut)
    return ids[:end], labels[:end], first_cut


@TRANSFORMS.register_module()
class TokenizeConversation(BaseTransform):
    """Render the template, tokenize, and build labels that supervise the responses.

    One BOS starts the sequence, an EOS ends every response, and ``<image>`` becomes the
    tokenizer's media token id (see :mod:`mmgpt.templates`). Labels are -100 except on
    the response tokens and the EOS after each response.

    Long sequences are cut at a turn boundary (see :func:`truncate_at_turn`; counted as
    ``truncated``). A sample left without any supervised token is dropped: the transform
    returns None (counted as ``no_supervised_tokens``) and the dataset fetches another
    sample of the same dataset.

    Required Keys:

    - turns (list[dict]): ``instruction``, ``input`` (optional), ``response``.
    - image (str | Tensor | None): only whether it is None matters here.

    Added Keys:

    - input_ids (list[int])
    - labels (list[int])
    - text (str): the rendered text of the kept turns, with ``<BOS>``/``<EOS>`` shown.
    - num_turns (int): the number of turns kept.
    - pad_token_id (int): the tokenizer's pad id (``mmgpt_collate`` pads with it).

    In a config, ``tokenizer`` and ``template`` are left out: they are the model's
    (``model.tokenizer``, ``model.template``), filled in by
    :func:`mmgpt.datasets.bind_model_config` when the dataloader is built.

    Args:
        tokenizer (dict): Tokenizer config for :func:`mmgpt.tokenizer.build_tokenizer`
            (a tokenizer object is also accepted).
        max_length (int): The most tokens of a sequence. Defaults to 512.
        template (str): A name in :data:`mmgpt.templates.TEMPLATES`. Defaults to
            :data:`~mmgpt.templates.DEFAULT_TEMPLATE`.
    """

    def __init__(self, tokenizer=None, max_length: int = 512,
                 template: str = DEFAULT_TEMPLATE) -> None:
        if max_length < 1:
            raise ValueError(f'max_length must be positive, got {max_length}')
        if tokenizer is None:
            raise ValueError('TokenizeConversation needs the model\'s tokenizer: build the '
                             'pipeline with bind_model_config(cfg, cfg.model)')
        self.tokenizer = build_tokenizer(tokenizer)
        self.max_length = max_length
        self.template = get_template(template)

    def transform(self, results: dict) -> dict | None:
        """Add ``input_ids``, ``labels``, ``text`` and ``num_turns``; None to drop."""
        segments = render(results, self.template)
        ids, labels, turns = encode_segments(segments, self.tokenizer, with_turns=True)
        total_turns = len(results['turns'])
        ids, labels, kept = truncate_at_turn(ids, labels, turns, self.max_length)
        name = f'sample {results.get("id", "?")!r} of {results.get("source", "?")}'
        if all(label == IGNORE_INDEX for label in labels):
            count_event('no_supervised_tokens',
                        f'{name} has no response token within max_length='
                        f'{self.max_length}; dropped, another sample is used instead')
            return None
        if len(turns) > self.max_length:
            count_event('truncated', f'{name} cut to {len(ids)} tokens, {kept} of '
                        f'{total_turns} turns (max_length={self.max_length})')
        results['input_ids'] = ids
        results['labels'] = labels
        results['text'] = segments_to_text([s for s in segments if s.turn < kept])
        results['num_turns'] = kept
        results['pad_token_id'] = self.tokenizer.pad_token_id
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(max_length={self.max_length}, '
                f'template={self.template.name!r})')
