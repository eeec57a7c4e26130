"""Scoring of the shapes-world evaluation items: summary table of per-task accuracies.

The per-answer scoring (keywords, strict reference sentence) is the registered metric's,
:mod:`mmgpt.evaluation.metrics.keyword`, re-exported here.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmgpt.evaluation.metrics.keyword import (
    NUMBER_WORDS,
    mentioned_choices,
    normalize_words,
    score_answer,
)

__all__ = ['NUMBER_WORDS', 'normalize_words', 'mentioned_choices', 'score_answer',
           'summarize', 'summary_from_metrics', 'format_table']


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


def summary_from_metrics(items: Sequence[Mapping], metrics: Mapping[str, Mapping]) -> dict:
    """The :func:`summarize` table from :class:`~mmgpt.evaluation.KeywordAcc` results.

    Args:
        items (Sequence[Mapping]): The evaluation items (for the task order).
        metrics (Mapping[str, Mapping]): For each model name (``'base'``, ``'tuned'``),
            the metrics ``tools/test.py`` reported (``keyword/<task>/keyword``,
            ``keyword/<task>/strict``, ``keyword/<task>/n``, ``keyword/<task>/chance``
            and the same without the task for all items), in percent.

    Returns:
        dict: ``{'tasks': {task: {'n', 'chance', <model>, <model>_strict, ...}},
        'overall': {...}}`` with fractions rounded to 4 digits, as :func:`summarize`.
    """
    def row(prefix: str) -> dict:
        first = next(iter(metrics.values()))
        entry = {'n': int(first[f'{prefix}n']),
                 'chance': round(first[f'{prefix}chance'] / 100, 4)}
        for name, values in metrics.items():
            if int(values[f'{prefix}n']) != entry['n']:
                raise ValueError(f'{name} scored {values[f"{prefix}n"]} items of '
                                 f'{prefix or "all"}, the others {entry["n"]}')
            entry[name] = round(values[f'{prefix}keyword'] / 100, 4)
        for name, values in metrics.items():
            entry[f'{name}_strict'] = round(values[f'{prefix}strict'] / 100, 4)
        return entry

    tasks = {task: row(f'keyword/{task}/') for task in dict.fromkeys(i['task'] for i in items)}
    return {'tasks': tasks, 'overall': row('keyword/')}


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
