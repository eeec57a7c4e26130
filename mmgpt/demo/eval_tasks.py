"""Scoring of the shapes-world evaluation items.

An evaluation item (one entry of ``eval_items.json``) names the keywords an answer must
contain (``accept``) and the closed set of keywords the task can have
(``choice_groups``: one list per attribute asked; ``choices`` is their union). An answer
is correct when, in every group, the keywords it mentions are exactly the accepted ones:
"There are two shapes." is right for ``accept=['two']``, "two or three" is not.

Matching works on normalised words: lower case (unless the item is ``case_sensitive``),
punctuation removed, digits read as number words ("2" == "two"), and a plural ``s`` is
ignored ("circles" == "circle"). ``strict=True`` also asks for the reference sentence
itself (same words after normalisation), which measures the instruction format: a model
that only captions gets every keyword task right and every strict one wrong.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ['NUMBER_WORDS', 'normalize_words', 'mentioned_choices', 'score_answer',
           'summarize', 'format_table']

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
        item (Mapping): An entry of ``eval_items.json`` with ``accept`` and
            ``choice_groups`` (or only ``choices``, read as one group) and optionally
            ``case_sensitive`` and ``answer`` (the reference sentence).
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


def summarize(items: Sequence[Mapping],
              scores: Mapping[str, Sequence[bool]] | None = None) -> dict:
    """Group evaluation items by task: count, chance level and accuracies.

    Args:
        items (Sequence[Mapping]): Evaluation items, each with ``task`` and ``chance``.
        scores (Mapping[str, Sequence[bool]], optional): For each model name (e.g.
            ``'base'``, ``'tuned'``), one correctness flag per item, in item order.
            Defaults to None (no accuracies).

    Returns:
        dict: ``{'tasks': {task: {'n': int, 'chance': float, <model>: float, ...}},
        'overall': {...}}``, tasks in order of first appearance; ``overall`` is the same
        over all items together (each item counts once).
    """
    scores = dict(scores or {})
    for name, flags in scores.items():
        if len(flags) != len(items):
            raise ValueError(f'scores[{name!r}] has {len(flags)} flags for {len(items)} '
                             'items; give one flag per item, in item order')
    tasks: dict[str, dict] = {}
    overall = {'n': 0, 'chance': 0.0, **dict.fromkeys(scores, 0.0)}
    for index, item in enumerate(items):
        entry = tasks.setdefault(item['task'], {'n': 0, 'chance': 0.0,
                                                **dict.fromkeys(scores, 0.0)})
        for target in (entry, overall):
            target['n'] += 1
            target['chance'] += float(item['chance'])
            for name, flags in scores.items():
                target[name] += float(bool(flags[index]))
    for entry in [*tasks.values(), overall]:
        for key in ['chance', *scores]:
            entry[key] = round(entry[key] / max(entry['n'], 1), 4)
    return {'tasks': tasks, 'overall': overall}


def format_table(summary: Mapping) -> str:
    """Render a :func:`summarize` result as a plain-text table.

    Args:
        summary (Mapping): ``{'tasks': {task: {'n': ..., 'chance': ..., ...}}}`` and
            optionally ``'overall'`` (shown last, as ``all``).

    Returns:
        str: One header line and one line per task; fractions shown as percentages.
    """
    tasks = dict(summary['tasks'])
    if summary.get('overall'):
        tasks['all'] = summary['overall']
    columns = ['n', 'chance']
    for entry in tasks.values():
        columns += [key for key in entry if key not in columns]
    width = max([len('task')] + [len(task) for task in tasks])
    sizes = [max(9, len(col) + 2) for col in columns]
    lines = ['task'.ljust(width) + ''.join(f'{c:>{n}}' for c, n in zip(columns, sizes))]
    for task, entry in tasks.items():
        cells = []
        for col, size in zip(columns, sizes):
            value = entry.get(col, '')
            if col == 'n' or not isinstance(value, float):
                cells.append(f'{value!s:>{size}}')
            else:
                cells.append(f'{100 * value:>{size - 1}.1f}%')
        lines.append(task.ljust(width) + ''.join(cells))
    return '\n'.join(lines)
