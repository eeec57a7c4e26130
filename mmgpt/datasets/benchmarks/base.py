"""The base of the evaluation datasets: a question to answer, and its references.

An evaluation dataset reads a benchmark's public val/test file and yields, per question,
the same conversation form as training (:mod:`mmgpt.datasets.base`) whose last turn has
no response yet, plus what the metrics compare the answer with::

    dict(image='data/coco/val2014/COCO_val2014_000000262148.jpg',
         turns=[dict(instruction='Where is he looking?', input='', response=None)],
         references=['down', 'down', 'at table', ...],   # [] on a split without answers
         split='vqav2_val', source='VQAv2EvalDataset', id=262148000,
         ...)                                           # metric fields (answer_type...)

The model renders the prompt from it with the same template code as training and chat
(:func:`mmgpt.templates.chat_prompt`, the model's template), so a question is asked
exactly as the model saw instructions in training. Errors in the files are reported like
the training readers': every bad record, with the file and the record.
"""
from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

from mmengine.fileio import exists, get

from ..base import ConversationDataset, RecordError, RecordRef, get_list

__all__ = ['EvalDataset', 'LastTurnEvalMixin', 'answers_of', 'format_prompt', 'load_json_file']


def format_prompt(prompt: str, **fields: Any) -> str:
    """Fill a prompt pattern such as ``'{question}\\nAnswer with a word.'``.

    Args:
        prompt (str): The pattern; ``{question}`` and the fields a dataset documents.
        **fields: Their values.

    Raises:
        ValueError: The pattern names a field the dataset does not give.
    """
    try:
        return prompt.format(**fields)
    except (KeyError, IndexError) as e:
        raise ValueError(f'prompt {prompt!r} uses {e}, which is not one of the fields '
                         f'{sorted(fields)}') from None


def answers_of(record: Any, key: str = 'answers') -> list[str]:
    """Human answers of a VQA-style record: a list of strings or of
    ``{"answer": ..., ...}`` objects (VQAv2, VizWiz).

    Args:
        record: The record (or annotation).
        key (str): The list's key. Defaults to ``'answers'``.
    """
    answers = get_list(record, key, (str, dict))
    out = []
    for i, answer in enumerate(answers):
        if isinstance(answer, dict):
            value = answer.get('answer')
            if not isinstance(value, str):
                raise RecordError(f"key {key!r}: item {i} has no string 'answer'")
            answer = value
        out.append(answer)
    return out


class EvalDataset(ConversationDataset):
    """Base of the evaluation datasets (see the module docstring).

    Args:
        prompt (str): The instruction asked, with ``{question}`` (and the fields a
            dataset documents). Defaults to ``'{question}'``.
        split_name (str): A name for the split, written into every sample (``split``)
            and the predictions file. Defaults to the class name.
        **kwargs: :class:`~mmgpt.datasets.base.ConversationDataset` arguments
            (``ann_file``, ``data_root``, ``img_prefix``, ``pipeline``, ``sample`` for a
            seeded subset...).
    """

    def __init__(self, *args, prompt: str = '{question}', split_name: str | None = None,
                 **kwargs):
        self.prompt = prompt
        self.split_name = split_name or type(self).__name__
        super().__init__(*args, **kwargs)

    def has_targets(self, conversation: dict) -> bool:
        """Earlier turns (history) need responses; the last is the question."""
        return all(turn['response'] for turn in conversation['turns'][:-1])

    def question(self, ref: RecordRef, question: str, references: Sequence[str],
                 image: str | None = None, id: Hashable | None = None,
                 history: Sequence[dict] = (), prompt_fields: dict | None = None,
                 **extra: Any) -> dict:
        """Build an evaluation conversation.

        Args:
            ref (RecordRef): The record.
            question (str): The question (``{question}`` of ``prompt``).
            references (Sequence[str]): Reference answers ([] when the split has none).
            image (str, optional): Image path relative to ``img_prefix``.
            id (Hashable, optional): The question id. Defaults to ``ref.key``.
            history (Sequence[dict]): Earlier turns with their responses.
            prompt_fields (dict, optional): More fields for ``prompt``.
            **extra: Fields for the metrics (``choices``, ``answer_type``...).
        """
        instruction = format_prompt(self.prompt, question=question.strip(),
                                    **(prompt_fields or {}))
        turn = dict(instruction=instruction, input='', response=None)
        conv = self.conversation(ref, [*history, turn], image=image, id=id)
        conv.update(references=[r.strip() for r in references], split=self.split_name,
                    question=question.strip(), **extra)
        return conv


class LastTurnEvalMixin(EvalDataset):
    """Turn a training reader into an evaluation reader: the last response of each
    conversation becomes the reference, earlier turns the history.

    Put it before the reader: ``class DollyEvalDataset(LastTurnEvalMixin, DollyDataset)``.
    ``prompt`` applies to the last instruction (``{question}``).
    """

    def parse(self, record: Any, ref: RecordRef):
        """The reader's conversations, each with its last response as the reference."""
        out = []
        for conv in self._as_list(super().parse(record, ref)):
            *history, last = conv['turns']
            turn = dict(last, instruction=format_prompt(self.prompt,
                                                        question=last['instruction']),
                        response=None)
            conv = dict(conv, turns=[*history, turn], references=[last['response']],
                        split=self.split_name, question=last['instruction'])
            out.append(conv)
        return out


def load_json_file(path: str, what: str) -> Any:
    """Read a whole JSON file; a missing or broken file is an error naming it.

    Args:
        path (str): The file.
        what (str): How the file is named in the message (``'answers_file'``).
    """
    if not exists(path):
        raise FileNotFoundError(f'{what} {path} does not exist')
    try:
        return json.loads(get(path).decode('utf-8-sig'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f'{path}: not a JSON file ({e})') from None

