"""Scores and summaries of the shapes-world experiments (``tools/experiments.py``).

One trained model answers the held-out items of ``eval_items.json`` once
(:func:`score_run`, through the demo's evaluation code); :func:`run_metrics` turns the
answers into the numbers the experiments compare, :func:`aggregate` summarises them over
seeds, and :func:`markdown_table` renders a table of those summaries. The numbers in
``docs/experiments.md`` are written by these functions from the experiment's JSON.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from mmgpt.inference import ChatEngine, GenerationOptions

from .eval_tasks import normalize_words, score_answer

__all__ = ['SHORT_TASKS', 'METRIC_LABELS', 'score_run', 'run_metrics', 'aggregate',
           'markdown_table']

#: The single-attribute questions the short-answer block (VQA v2 / GQA formats) asks.
SHORT_TASKS = ('count', 'color', 'shape', 'word')

#: What each metric name means (used as table and plot labels).
METRIC_LABELS = {
    'len/dialog': 'mean answer length, dialogue 2nd turn (words)',
    'len/caption': 'mean answer length, "describe the image" (words)',
    'terse/dialog': 'answers of at most 2 words, dialogue 2nd turn',
    'terse/caption': 'answers of at most 2 words, "describe the image"',
    'acc/vl': 'keyword accuracy, vision-language (6 tasks)',
    'strict/vl': 'strict accuracy, vision-language (6 tasks)',
    'acc/lang': 'keyword accuracy, language-only (3 tasks)',
    'strict/lang': 'strict accuracy, language-only (3 tasks)',
    'acc/all': 'keyword accuracy, all tasks',
    'strict/all': 'strict accuracy, all tasks',
    'short/acc': 'keyword accuracy, count/color/shape/word',
    'short/exact': 'one-word answers (VQA exact match), count/color/shape/word',
}


def score_run(engine: ChatEngine, items: Sequence[Mapping], data_dir: str,
              desc: str = 'evaluate') -> list[dict]:
    """Answer every item with a model and score each answer.

    The one place the experiments call the demo's evaluation code, so that moving it
    (e.g. onto registered metrics) changes one function.

    Args:
        engine (ChatEngine): The model to evaluate.
        items (Sequence[Mapping]): Entries of ``eval_items.json``.
        data_dir (str): The folder the items' image paths are relative to.
        desc (str): Progress bar label. Defaults to 'evaluate'.

    Returns:
        list[dict]: Per item (in item order) ``task``, ``answer``, ``correct`` (keyword
        scoring) and ``strict`` (the reference sentence word for word).
    """
    from tqdm import tqdm  # progress only

    options = GenerationOptions(max_new_tokens=24)
    results = []
    for item in tqdm(items, desc=desc, unit='item', leave=False):
        conv = engine.new_conversation()
        if item.get('image'):
            conv.add_image(os.path.join(data_dir, item['image']))
        # earlier turns as history, with the reference answers (as the demo's eval splits)
        for question, answer in zip(item['turns'][:-1], item.get('history_answers') or []):
            conv.turns.append(dict(instruction=question, input='', response=answer,
                                   image=conv.pending_image))
            conv.pending_image = None
        text = engine.ask(conv, item['turns'][-1], options)
        results.append(dict(task=item['task'], answer=text,
                            correct=score_answer(item, text),
                            strict=score_answer(item, text, strict=True)))
    return results


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else float('nan')


def run_metrics(items: Sequence[Mapping], results: Sequence[Mapping]) -> dict[str, float]:
    """The numbers one run contributes to the experiments.

    Args:
        items (Sequence[Mapping]): The evaluation items.
        results (Sequence[Mapping]): :func:`score_run`'s output for them.

    Returns:
        dict[str, float]: ``acc/<task>`` and ``strict/<task>`` per task, the groups of
        :data:`METRIC_LABELS` (``vl``: tasks with an image, ``lang``: without), the mean
        answer length in normalised words of the dialogue and caption items and the share
        of those answers with at most two words (``terse/...``).

    Raises:
        ValueError: ``results`` does not have one entry per item.
    """
    if len(items) != len(results):
        raise ValueError(f'{len(results)} results for {len(items)} items; score every item')
    groups: dict[str, list[int]] = {'all': list(range(len(items))), 'vl': [], 'lang': []}
    tasks: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        tasks.setdefault(item['task'], []).append(index)
        groups['vl' if item.get('image') else 'lang'].append(index)
    metrics: dict[str, float] = {}
    for name, indices in [*tasks.items(), *groups.items()]:
        metrics[f'acc/{name}'] = _mean([float(results[i]['correct']) for i in indices])
        metrics[f'strict/{name}'] = _mean([float(results[i]['strict']) for i in indices])
    for task in ('dialog', 'caption'):
        lengths = [len(normalize_words(results[i]['answer'])) for i in tasks.get(task, [])]
        metrics[f'len/{task}'] = _mean([float(n) for n in lengths])
        metrics[f'terse/{task}'] = _mean([float(n <= 2) for n in lengths])
    short = [i for t in SHORT_TASKS for i in tasks.get(t, [])]
    metrics['short/acc'] = _mean([float(results[i]['correct']) for i in short])
    metrics['short/exact'] = _mean([
        float(normalize_words(results[i]['answer']) == [items[i]['accept'][0].lower()])
        for i in short])
    return metrics


def aggregate(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation, minimum and maximum over seeds.

    Args:
        values (Sequence[float]): One value per seed.

    Returns:
        dict[str, float]: ``mean``, ``std`` (0 for a single value), ``min``, ``max``,
        ``n`` and the ``values`` themselves.
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError('aggregate needs at least one value')
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return {'mean': round(mean, 4), 'std': round(math.sqrt(var), 4),
            'min': round(min(values), 4), 'max': round(max(values), 4), 'n': len(values),
            'values': [round(v, 4) for v in values]}


def _cell(stats: Mapping, metric: str) -> str:
    """``mean ± std (min-max)``; accuracies as percentages, lengths as words."""
    if metric.startswith('len/'):
        return (f"{stats['mean']:.2f} ± {stats['std']:.2f} "
                f"({stats['min']:.2f}-{stats['max']:.2f})")
    return (f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f} "
            f"({100 * stats['min']:.1f}-{100 * stats['max']:.1f})")


def markdown_table(summary: Mapping[str, Mapping[str, Mapping]], arms: Sequence[str],
                   metrics: Sequence[str]) -> str:
    """A markdown table: one row per metric, one column per arm.

    Args:
        summary (Mapping): ``{arm: {metric: aggregate(...)}}``.
        arms (Sequence[str]): Column order.
        metrics (Sequence[str]): Row order; labels from :data:`METRIC_LABELS` where
            known (``acc/<task>`` reads "keyword accuracy, <task>").

    Returns:
        str: The table; cells are ``mean ± std (min-max)`` over seeds, accuracies in %.
    """
    lines = ['| metric | ' + ' | '.join(arms) + ' |', '|---|' + '---|' * len(arms)]
    for metric in metrics:
        label = METRIC_LABELS.get(metric)
        if label is None:
            kind, _, task = metric.partition('/')
            label = f"{'keyword' if kind == 'acc' else kind} accuracy, {task}"
        cells = [_cell(summary[arm][metric], metric) for arm in arms]
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
