"""The straightforward stop check and streamer, kept as a reference for the fast ones.

:class:`FullDecodeStop` and :class:`FullDecodeStreamer` decode the whole answer at every
generated token: simple enough to be obviously right, and quadratic in the answer's
length. :mod:`mmgpt.inference.chat` uses the incremental ``_StopOnStrings`` and
``_Streamer`` instead; ``tests/test_inference/test_stop_check.py`` checks that both stop
at the same token and stream the same text, and ``tools/analysis/benchmark_encoding.py``
times them side by side.
"""
from __future__ import annotations

import torch

from mmgpt.templates import cut_at_stop_words

__all__ = ['FullDecodeStop', 'FullDecodeStreamer']


class FullDecodeStop:
    """A ``transformers`` stopping criterion: stop once a stop word is in the decoded answer.

    Args:
        tokenizer: The tokenizer.
        prompt_len (int): Prompt tokens at the start of ``input_ids``.
        stop_words (Sequence[str]): From :func:`mmgpt.templates.get_stop_words`.
    """

    def __init__(self, tokenizer, prompt_len: int, stop_words):
        self.tokenizer, self.prompt_len, self.stop_words = tokenizer, prompt_len, stop_words

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:])
        return torch.tensor([any(w in t for w in self.stop_words) for t in texts],
                            device=input_ids.device)


class FullDecodeStreamer:
    """A ``transformers`` streamer passing the answer's text, cut at a stop word, to a
    callback, holding back a stop word's length less one character.

    Args:
        tokenizer: The tokenizer.
        callback (callable): Receives each new piece of text.
        stop_words (Sequence[str]): From :func:`mmgpt.templates.get_stop_words`.
        skip (int): 1 to ignore the first ``put`` (``generate`` puts the prompt first).
            Defaults to 0.
    """

    def __init__(self, tokenizer, callback, stop_words, skip: int = 0):
        self.tokenizer, self.callback, self.stop_words = tokenizer, callback, stop_words
        self.skip, self.ids, self.sent = skip, [], 0

    def _text(self) -> str:
        return cut_at_stop_words(self.tokenizer.decode(self.ids, skip_special_tokens=True),
                                 self.stop_words)

    def put(self, value):
        if self.skip:
            self.skip = 0
            return
        self.ids += value.flatten().tolist()
        text = self._text()
        ready = len(text) - (max(len(w) for w in self.stop_words) - 1)
        if ready > self.sent:
            self.callback(text[self.sent:ready])
            self.sent = ready

    def end(self):
        text = self._text().rstrip()
        if len(text) > self.sent:
            self.callback(text[self.sent:])
