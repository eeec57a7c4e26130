"""Exact-match accuracy of short answers (GQA, CLEVR, NLVR, SNLI-VE)."""
from __future__ import annotations

from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from mmgpt.registry import METRICS

from ._common import get_prediction, get_references
from .aokvqa import normalize_short_answer
from .vqa import normalize_vqa_answer

__all__ = ['ExactMatchAcc']

_NORMALIZERS = {
    'vqa': normalize_vqa_answer,
    'short': normalize_short_answer,
    'none': lambda text: text.strip(),
}


@METRICS.register_module()
class ExactMatchAcc(BaseMetric):
    """Accuracy of answers equal to a reference, after a normalisation.

    GQA's evaluation compares the predicted answer string with the gold one; CLEVR,
    NLVR2 and SNLI-VE are classification tasks whose label is the answer. A generated
    answer is normalised first: ``'vqa'`` (the VQA normalisation: punctuation, lower case,
    number words to digits, articles, contractions; "Yes." == "yes", "two" == "2"),
    ``'short'`` (lower case, end punctuation stripped) or ``'none'`` (ends stripped).
    The answer is correct when it equals any of the record's ``references``.

    Args:
        normalize (str): ``'vqa'``, ``'short'`` or ``'none'``. Defaults to ``'vqa'``.
        per_task (bool): Also report the accuracy per ``task`` field. Defaults to False.
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'exact_match'``.
    """

    default_prefix = 'exact_match'

    def __init__(self, normalize: str = 'vqa', per_task: bool = False,
                 collect_device: str = 'cpu', prefix: str | None = None):
        if normalize not in _NORMALIZERS:
            raise ValueError(f'ExactMatchAcc: normalize must be one of '
                             f'{sorted(_NORMALIZERS)}, got {normalize!r}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.normalize = _NORMALIZERS[normalize]
        self.per_task = per_task

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Compare each normalised prediction with the normalised references."""
        for sample in data_samples:
            pred = self.normalize(get_prediction(sample))
            refs = {self.normalize(r) for r in get_references(sample)}
            self.results.append(dict(correct=float(pred in refs), task=sample.get('task')))

    def compute_metrics(self, results: list) -> dict:
        """``accuracy`` (percent) and ``n``; per task ``<task>/accuracy``, ``<task>/n``."""
        out = dict(accuracy=100.0 * sum(r['correct'] for r in results) / max(len(results), 1),
                   n=len(results))
        if self.per_task:
            for task in sorted({r['task'] for r in results if r['task']}):
                flags = [r['correct'] for r in results if r['task'] == task]
                out[f'{task}/accuracy'] = 100.0 * sum(flags) / len(flags)
                out[f'{task}/n'] = len(flags)
        return out
