"""Language-only instruction following (held-out Dolly / Alpaca-GPT4 style items)."""
from __future__ import annotations

import re
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from mmgpt.registry import METRICS

from ._common import get_prediction, get_references

__all__ = ['rouge_tokens', 'lcs_length', 'rouge_l', 'InstructionMetric']

_TOKEN = re.compile(r'\w+', re.UNICODE)


def rouge_tokens(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, underscore); punctuation is dropped.

    Args:
        text (str): A text.
    """
    return _TOKEN.findall(text.lower())


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of two sequences (dynamic programming,
    O(len(a) * len(b)) time, O(len(b)) memory).

    Args:
        a (Sequence): First sequence.
        b (Sequence): Second sequence.
    """
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, reference: str, beta: float = 1.0) -> float:
    """ROUGE-L F-measure (Lin, 2004) of a prediction against one reference.

    ``P = LCS / len(prediction)``, ``R = LCS / len(reference)``,
    ``F = (1 + beta^2) P R / (R + beta^2 P)``, on :func:`rouge_tokens`; 0 when either
    side has no token. ``beta=1`` is the F1 that ``rouge-score`` reports; pycocoevalcap's
    caption ROUGE_L uses ``beta=1.2``.

    Args:
        prediction (str): The generated text.
        reference (str): The reference text.
        beta (float): Weight of recall. Defaults to 1.0.
    """
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    lcs = lcs_length(pred, ref)
    if not lcs:
        return 0.0
    p, r = lcs / len(pred), lcs / len(ref)
    return (1 + beta ** 2) * p * r / (r + beta ** 2 * p)


@METRICS.register_module()
class InstructionMetric(BaseMetric):
    """ROUGE-L and exact match of answers to language-only instructions.

    Measures how much language-only instruction following survives joint training
    (MultiModal-GPT's claim): the answer to each held-out instruction is compared with
    its reference response. ROUGE-L is the best F-measure over the record's
    ``references``; exact match compares :func:`rouge_tokens` (case and punctuation
    ignored). Both in percent, per ``task`` too when records have one.

    Args:
        beta (float): ROUGE-L recall weight. Defaults to 1.0 (F1).
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'instruction'``.
    """

    default_prefix = 'instruction'

    def __init__(self, beta: float = 1.0, collect_device: str = 'cpu',
                 prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.beta = beta

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each answer against its references."""
        for sample in data_samples:
            pred, refs = get_prediction(sample), get_references(sample)
            self.results.append(dict(
                rouge_l=max(rouge_l(pred, r, self.beta) for r in refs),
                exact=float(any(rouge_tokens(pred) == rouge_tokens(r) for r in refs)),
                task=sample.get('task')))

    def compute_metrics(self, results: list) -> dict:
        """``rouge_l``, ``exact_match`` (percent), ``n``; per task with a ``<task>/``."""
        def summary(rows, key=''):
            n = max(len(rows), 1)
            return {f'{key}rouge_l': 100.0 * sum(r['rouge_l'] for r in rows) / n,
                    f'{key}exact_match': 100.0 * sum(r['exact'] for r in rows) / n,
                    f'{key}n': len(rows)}

        out = summary(results)
        for task in sorted({r['task'] for r in results if r['task']}):
            out.update(summary([r for r in results if r['task'] == task], f'{task}/'))
        return out
