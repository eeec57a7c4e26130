"""Answer the shapes world's held-out items with a chat engine and score them."""
from __future__ import annotations

import os
from collections.abc import Sequence

from mmgpt.inference import ChatEngine, GenerationOptions

from .eval_tasks import score_answer

__all__ = ['answer_item', 'evaluate_items']


def answer_item(engine: ChatEngine, item: dict, data_dir: str,
                options: GenerationOptions) -> str:
    """Answer the last question of an item, its earlier turns given as history.

    Args:
        engine (ChatEngine): The model.
        item (dict): An entry of ``eval_items.json``.
        data_dir (str): The data folder the item's image path is relative to.
        options (GenerationOptions): Generation options.

    Returns:
        str: The answer to the item's last question.
    """
    conv = engine.new_conversation()
    if item.get('image'):
        conv.add_image(os.path.join(data_dir, item['image']))
    history = item.get('history_answers') or []
    for question, answer in zip(item['turns'][:-1], history):
        conv.turns.append(dict(instruction=question, input='', response=answer,
                               image=conv.pending_image))
        conv.pending_image = None
    return engine.ask(conv, item['turns'][-1], options)


def evaluate_items(engine: ChatEngine, items: Sequence[dict], data_dir: str,
                   max_new_tokens: int = 24, desc: str = 'evaluate') -> list[dict]:
    """Answer every item greedily and score it.

    Returns:
        list[dict]: Per item ``answer``, ``correct`` (keyword scoring) and ``strict``
        (the reference sentence word for word).
    """
    from tqdm import tqdm

    options = GenerationOptions(max_new_tokens=max_new_tokens)
    results = []
    for item in tqdm(items, desc=desc, unit='item', leave=False):
        text = answer_item(engine, item, data_dir, options)
        results.append(dict(answer=text, correct=score_answer(item, text),
                            strict=score_answer(item, text, strict=True)))
    return results
