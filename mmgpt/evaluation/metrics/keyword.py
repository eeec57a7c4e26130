"""Keyword scoring of closed-set answers (the demo's shapes-world evaluation).

An evaluation item names the keywords an answer must contain (``accept``) and the closed
set of keywords the task can have (``choice_groups``: one list per attribute asked;
``choices`` is their union). An answer is correct when, in every group, the keywords it
mentions are exactly the accepted ones: "There are two shapes." is right for
``accept=['two']``, "two or three" is not.

Matching works on normalised words: lower case (unless the item is ``case_sensitive``),
punctuation removed, digits read as number words ("2" == "two"), and a plural ``s`` is
ignored ("circles" == "circle"). ``strict=True`` also asks for the reference sentence
itself (same words after normalisation), which measures the instruction format: a model
that only captions gets every keyword task right and every strict one wrong.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from mmengine.evaluator import BaseMetric
from mmengine.fileio import get

from mmgpt.registry import METRICS

from ._common import PredictionError, get_prediction, sample_id

__all__ = ['NUMBER_WORDS', 'normalize_words', 'mentioned_choices', 'score_answer',
           'KeywordAcc']

NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
                'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen',
                'sixteen', 'seventeen', 'eighteen', 'nineteen', 'twenty')

_WORD_RE = re.compile(r'[0-9A-Za-z]+')


def normalize_words(text: str, case_sensitive: bool = False) -> list[str]:
    """Split a text into normalised words.

    Args:
        text (str): The answer text.
        case_sensitive (bool): Keep letter case. Defaults to False.

    Returns:
        list[str]: The words, digits spelled out (``'7'`` -> ``'seven'``).
    """
    words = []
    for word in _WORD_RE.findall(text):
        if word.isdigit() and int(word) < len(NUMBER_WORDS):
            word = NUMBER_WORDS[int(word)]
        words.append(word if case_sensitive else word.lower())
    return words


def _forms(keyword: str) -> set[str]:
    """The word forms that count as a mention of ``keyword`` (itself and its plural)."""
    return {keyword, keyword + 's', keyword + 'S'}


def mentioned_choices(words: Iterable[str], choices: Sequence[str]) -> set[str]:
    """The choices that a list of normalised words mentions.

    Args:
        words (Iterable[str]): Normalised words of an answer.
        choices (Sequence[str]): Candidate keywords.

    Returns:
        set[str]: The mentioned candidates.
    """
    present = set(words)
    return {choice for choice in choices if _forms(choice) & present}


def score_answer(item: Mapping, text: str, strict: bool = False) -> bool:
    """Whether ``text`` answers an evaluation item correctly.

    Args:
        item (Mapping): An item with ``accept`` and ``choice_groups`` (or only
            ``choices``, read as one group) and optionally ``case_sensitive`` and
            ``answer`` (the reference sentence).
        text (str): The generated answer.
        strict (bool): Also require the answer's words to equal those of the reference
            sentence (same normalisation): the instruction *format* counts, so a bare
            caption such as "two red circles." is wrong for "How many shapes are
            there?". Defaults to False (keywords only).

    Returns:
        bool: True if, in every group, the mentioned keywords are exactly the accepted
        ones of that group (so an answer naming two colours is wrong), and, when
        ``strict``, the words equal the reference answer's.
    """
    case_sensitive = bool(item.get('case_sensitive', False))
    words = normalize_words(text, case_sensitive)
    if strict and words != normalize_words(item['answer'], case_sensitive):
        return False
    groups = item.get('choice_groups') or [item['choices']]
    accept = set(item['accept'])
    if not case_sensitive:
        words = [w.lower() for w in words]
        accept = {a.lower() for a in accept}
        groups = [[c.lower() for c in group] for group in groups]
    for group in groups:
        wanted = accept & set(group)
        if mentioned_choices(words, group) != wanted:
            return False
    return bool(accept)


@METRICS.register_module()
class KeywordAcc(BaseMetric):
    """Keyword and strict accuracy of closed-set answers, per task (the demo's scoring).

    The keyword specification of each item is not part of the public formats the
    answers are read from, so it comes from its own file, ``ann_file``: a JSON object
    ``{"<split>/<id>": item}`` where ``<split>`` is the evaluation dataset's
    ``split_name`` and ``<id>`` the sample id; an item holds ``task``, ``chance``,
    ``answer``, ``accept``, ``choice_groups`` and ``case_sensitive`` (see
    :func:`score_answer`). A prediction whose key is not in the file is an error.

    Reports, in percent, ``keyword`` and ``strict`` with ``n`` and ``chance`` over all
    items, and the same per task as ``<task>/keyword`` ...

    Args:
        ann_file (str): The keyword file.
        collect_device (str): MMEngine's. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'keyword'``.
    """

    default_prefix = 'keyword'

    def __init__(self, ann_file: str, collect_device: str = 'cpu',
                 prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        try:
            items = json.loads(get(ann_file))
        except (OSError, ValueError) as e:
            raise ValueError(f'KeywordAcc: cannot read {ann_file}: {e}') from None
        if not isinstance(items, dict):
            raise ValueError(f'KeywordAcc: {ann_file}: expected an object keyed by '
                             f'"<split>/<id>", got {type(items).__name__}')
        for key, item in items.items():
            missing = [k for k in ('task', 'accept', 'answer') if k not in item] \
                if isinstance(item, dict) else ['(not an object)']
            if missing or not (item.get('choice_groups') or item.get('choices')):
                raise ValueError(f'KeywordAcc: {ann_file}: record {key!r}: missing '
                                 f'{missing or ["choice_groups"]}')
        self.items = items

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each answer with its item's keywords."""
        for sample in data_samples:
            key = f"{sample.get('split', '')}/{sample_id(sample)}"
            item = self.items.get(key)
            if item is None:
                raise PredictionError(f'KeywordAcc: prediction {key!r} has no item in '
                                      f'{self.ann_file}')
            text = get_prediction(sample)
            self.results.append(dict(task=item['task'], chance=float(item.get('chance', 0)),
                                     keyword=float(score_answer(item, text)),
                                     strict=float(score_answer(item, text, strict=True))))

    def compute_metrics(self, results: list) -> dict:
        """Overall and per-task ``keyword``, ``strict`` (percent), ``chance``, ``n``."""
        def summary(rows, key=''):
            n = max(len(rows), 1)
            return {f'{key}keyword': 100.0 * sum(r['keyword'] for r in rows) / n,
                    f'{key}strict': 100.0 * sum(r['strict'] for r in rows) / n,
                    f'{key}chance': 100.0 * sum(r['chance'] for r in rows) / n,
                    f'{key}n': len(rows)}

        out = summary(results)
        for task in dict.fromkeys(r['task'] for r in results):
            out.update(summary([r for r in results if r['task'] == task], f'{task}/'))
        return out
