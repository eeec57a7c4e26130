"""The shapes world's held-out items written as public evaluation files.

:func:`write_eval_splits` turns ``eval_items.json`` into the formats the evaluation
datasets read, so the demo is scored by ``tools/test.py`` like any benchmark:

==============================  ========================  ==========================
tasks                           file (under ``eval/``)     format / reader
==============================  ========================  ==========================
count, color, shape, word       vqa_questions.json,       VQAv2 questions +
                                vqa_annotations.json      annotations / VQAv2EvalDataset
caption                         caption_test.json         COCO Karpathy (LAVIS) test /
                                                          COCOKarpathyEvalDataset
dialog                          dialog.json               LLaVA-Instruct / LlavaEvalDataset
lang_add, lang_reverse,         lang.jsonl                Dolly / DollyEvalDataset
lang_upper
==============================  ========================  ==========================

The VQA answers are the reference sentence ten times (the shapes world has one
reference); image ids are the test image numbers; question ids and caption image ids
are the item's index in ``eval_items.json``. ``keywords.json`` maps
``'<split>/<id>'`` to the item (``accept``, ``choice_groups``...) for
:class:`~mmgpt.evaluation.KeywordAcc`. Captions keep each item's own request in
``prompt`` (the reader's ``prompt_key``).
"""
from __future__ import annotations

import json
import os
import re

from mmgpt.utils.fileio import atomic_write_bytes

__all__ = ['EVAL_SPLITS', 'write_eval_splits']

#: Split name of each task (the ``split_name`` of configs/_base_/datasets/eval_shapes_world.py).
EVAL_SPLITS = {'count': 'shapes_vqa', 'color': 'shapes_vqa', 'shape': 'shapes_vqa',
               'word': 'shapes_vqa', 'caption': 'shapes_caption', 'dialog': 'shapes_dialog',
               'lang_add': 'shapes_lang', 'lang_reverse': 'shapes_lang',
               'lang_upper': 'shapes_lang'}


def _image_number(path: str) -> int:
    match = re.search(r'(\d+)\.png$', path)
    if match is None:
        raise ValueError(f'expected a test image named NNNNN.png, got {path!r}')
    return int(match.group(1))


def write_eval_splits(data_dir: str) -> dict:
    """Write ``<data_dir>/eval/`` from ``<data_dir>/eval_items.json``.

    Args:
        data_dir (str): The shapes-world folder.

    Returns:
        list[str]: The ``'<split>/<id>'`` key of every item, in ``eval_items.json`` order
        (the keys of ``eval/keywords.json`` and of the predictions file).
    """
    with open(os.path.join(data_dir, 'eval_items.json'), encoding='utf-8') as f:
        items = json.load(f)
    questions, annotations, captions, dialogs, lang = [], [], [], [], []
    keywords, keys = {}, []
    for index, item in enumerate(items):
        split = EVAL_SPLITS.get(item['task'])
        if split is None:
            raise ValueError(f'eval_items.json: item {index}: unknown task {item["task"]!r}')
        if split == 'shapes_vqa':
            image_id = _image_number(item['image'])
            questions.append(dict(image_id=image_id, question=item['turns'][-1],
                                  question_id=index))
            annotations.append(dict(
                question_id=index, image_id=image_id, question_type=item['task'],
                answer_type=item['task'], multiple_choice_answer=item['answer'],
                answers=[dict(answer=item['answer'], answer_confidence='yes', answer_id=k)
                         for k in range(1, 11)]))
            key = index
        elif split == 'shapes_caption':
            captions.append(dict(image=item['image'], caption=[item['answer']],
                                 image_id=index, prompt=item['turns'][-1]))
            key = index
        elif split == 'shapes_dialog':
            conv = []
            for k, question in enumerate(item['turns']):
                answer = (item['history_answers'] + [item['answer']])[k]
                conv += [{'from': 'human', 'value': f'<image>\n{question}' if k == 0
                          else question}, {'from': 'gpt', 'value': answer}]
            dialogs.append(dict(id=index, image=item['image'], conversations=conv))
            key = index
        else:
            key = len(lang)  # Dolly lines have no id: the reader numbers them
            lang.append(dict(instruction=item['turns'][-1], context='',
                             response=item['answer'], category=item['task']))
        keywords[f'{split}/{key}'] = item
        keys.append(f'{split}/{key}')
    files = {
        'vqa_questions.json': dict(questions=questions, data_subtype='shapes_test'),
        'vqa_annotations.json': dict(annotations=annotations),
        'caption_test.json': captions,
        'dialog.json': dialogs,
        'keywords.json': keywords,
    }
    out = os.path.join(data_dir, 'eval')
    os.makedirs(out, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(json.dumps(data, indent=1).encode('utf-8'), os.path.join(out, name))
    lines = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in lang)
    atomic_write_bytes(lines.encode('utf-8'), os.path.join(out, 'lang.jsonl'))
    return keys
