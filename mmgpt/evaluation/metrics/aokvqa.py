"""A-OKVQA accuracy: multiple choice (MC) and direct answer (DA).

The definitions of A-OKVQA's evaluation script (``eval_predictions.py`` of
allenai/aokvqa): MC scores 1 when the predicted choice is the correct one; DA scores
``min(#direct answers equal to the prediction / 3, 1)`` over the 10 direct answers (no
leave-one-out, unlike VQAv2). The official script takes predictions that already are
one of the choices; a generated answer is mapped to a choice here (see
:func:`match_choice`) and one that names no choice, or several, counts as wrong and is
reported as ``mc_unmatched``. Questions marked ``difficult_direct_answer`` are left out
of DA, as the A-OKVQA paper says (``difficult_subset='da'``); the released script applies
that filter to MC instead, which ``difficult_subset='mc'`` reproduces.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from mmengine.evaluator import BaseMetric

from mmgpt.registry import METRICS

from ._common import PredictionError, get_prediction, get_references, sample_id

__all__ = ['normalize_short_answer', 'match_choice', 'AOKVQAAcc']

_EDGE_PUNCT = re.compile(r'^[\s"\'`.,;:!?()]+|[\s"\'`.,;:!?()]+$')


def normalize_short_answer(text: str) -> str:
    """Lower case, inner whitespace collapsed, punctuation stripped from both ends.

    ``" The Cab. "`` -> ``"the cab"``. Used to compare a generated answer with the
    choices and direct answers of A-OKVQA (which are lower case without end punctuation).

    Args:
        text (str): An answer.
    """
    return _EDGE_PUNCT.sub('', ' '.join(text.lower().split()))


def match_choice(prediction: str, choices: Sequence[str]) -> int | None:
    """The index of the choice a generated answer names, or None.

    The answer names a choice when, after :func:`normalize_short_answer`, it equals the
    choice, or it is "the answer is <choice>...", or the choice occurs in it as whole
    words and no other choice does.

    Args:
        prediction (str): The generated answer.
        choices (Sequence[str]): The choices.
    """
    answer = normalize_short_answer(prediction)
    norm = [normalize_short_answer(c) for c in choices]
    if answer in norm:
        return norm.index(answer)
    found = [i for i, c in enumerate(norm)
             if c and re.search(rf'(?<!\w){re.escape(c)}(?!\w)', answer)]
    if len(found) == 1:
        return found[0]
    # "The answer is cab. Because ..." (the training response form) names others later.
    lead = re.match(r'the answer is (.+?)(?:\.\s|\.$|$)', answer)
    if lead and normalize_short_answer(lead.group(1)) in norm:
        return norm.index(normalize_short_answer(lead.group(1)))
    return None


@METRICS.register_module()
class AOKVQAAcc(BaseMetric):
    """A-OKVQA multiple-choice and direct-answer accuracy (percent).

    Each prediction record needs ``pred_text``; MC needs ``choices`` and
    ``correct_choice_idx``; DA needs ``references`` (the direct answers).
    ``difficult_direct_answer`` (default False) marks the difficult questions.

    Args:
        mode (str): ``'mc'``, ``'da'`` or ``'both'``. Defaults to ``'both'``.
        difficult_subset (str): Which score leaves the difficult questions out:
            ``'da'`` (the paper), ``'mc'`` (the released script) or ``'none'``.
            Defaults to ``'da'``.
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'aokvqa'``.
    """

    default_prefix = 'aokvqa'

    def __init__(self, mode: str = 'both', difficult_subset: str = 'da',
                 collect_device: str = 'cpu', prefix: str | None = None):
        if mode not in ('mc', 'da', 'both'):
            raise ValueError(f"AOKVQAAcc: mode must be 'mc', 'da' or 'both', got {mode!r}")
        if difficult_subset not in ('da', 'mc', 'none'):
            raise ValueError("AOKVQAAcc: difficult_subset must be 'da', 'mc' or 'none', "
                             f'got {difficult_subset!r}')
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.mode, self.difficult_subset = mode, difficult_subset

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each prediction in the chosen settings."""
        for sample in data_samples:
            pred = get_prediction(sample)
            result = dict(difficult=bool(sample.get('difficult_direct_answer', False)))
            if self.mode in ('mc', 'both'):
                choices = get_references(sample, 'choices', min_len=2)
                correct = sample.get('correct_choice_idx')
                if not isinstance(correct, int) or not 0 <= correct < len(choices):
                    raise PredictionError(
                        f'prediction {sample_id(sample)!r}: expected correct_choice_idx '
                        f'from 0 to {len(choices) - 1}, got {correct!r}')
                chosen = match_choice(pred, choices)
                result.update(mc=float(chosen == correct), unmatched=chosen is None)
            if self.mode in ('da', 'both'):
                answer = normalize_short_answer(pred)
                refs = [normalize_short_answer(r) for r in get_references(sample)]
                result['da'] = min(1.0, sum(r == answer for r in refs) / 3.0)
            self.results.append(result)

    def compute_metrics(self, results: list) -> dict:
        """``mc_accuracy``, ``mc_n``, ``mc_unmatched``, ``da_accuracy``, ``da_n``, ``n``."""
        out = dict(n=len(results))
        for kind in ('mc', 'da'):
            if self.mode not in (kind, 'both'):
                continue
            kept = [r for r in results
                    if not (r['difficult'] and self.difficult_subset == kind)]
            out[f'{kind}_accuracy'] = 100.0 * sum(r[kind] for r in kept) / max(len(kept), 1)
            out[f'{kind}_n'] = len(kept)
            if kind == 'mc':
                out['mc_unmatched'] = sum(r['unmatched'] for r in kept)
        return out
