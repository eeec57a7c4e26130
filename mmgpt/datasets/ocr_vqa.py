"""OCR-VQA: questions about the text on book covers."""
from __future__ import annotations

import posixpath
from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordError, RecordRef, get_field, get_list, make_turn

__all__ = ['OCRVQADataset']

_SPLITS = (None, 1, 2, 3)


@DATASETS.register_module()
class OCRVQADataset(ConversationDataset):
    """OCR-VQA, in its released ``dataset.json`` form or as a list of records.

    The release's ``dataset.json`` is an object keyed by book id; its downloader saves
    the cover as ``<id><extension of imageURL>`` (almost always ``.jpg``) in ``images/``,
    so set ``img_prefix`` to that folder. ``split`` is 1 (train), 2 (val) or 3 (test)::

        {"1234": {"imageURL": "http://ecx.images-amazon.com/images/I/51Jb.jpg",
                  "questions": ["Who wrote this book?", "What is the title of this book?"],
                  "answers": ["Jane Doe", "A Title"],
                  "title": "A Title", "authorName": "Jane Doe",
                  "genre": "Travel", "split": 1}}

    The list form names the image file itself (relative to ``img_prefix``)::

        [{"filename": "1234.jpg", "questions": ["Who wrote this book?"],
          "answers": ["Jane Doe"]}]

    By default each question/answer pair is its own one-turn conversation (id
    ``'<id>_<k>'``); with ``multi_turn=True`` a record is one conversation whose turns
    are its pairs in order (id ``'<id>'``). ``sample`` counts conversations.

    Args:
        split (int, optional): Keep only records of this ``split`` (1 train, 2 val,
            3 test) of ``dataset.json``; records without a split are kept. Defaults to
            None (all).
        multi_turn (bool): One conversation per record instead of one per question.
            Defaults to False.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, split: int | None = None, multi_turn: bool = False,
                 **kwargs):
        if split not in _SPLITS:
            raise ValueError(f'OCRVQADataset: split must be one of {_SPLITS}, got {split!r}')
        self.split = split
        self.multi_turn = multi_turn
        super().__init__(*args, **kwargs)

    def records(self, data: Any):
        """Records of the list form or of ``dataset.json`` (an object keyed by id)."""
        if isinstance(data, dict):
            return self.dict_records(data)
        return self.list_records(data, what='the file (a list, or an object keyed by id)')

    def parse(self, record: Any, ref: RecordRef) -> list[dict]:
        """Parse one record (see the class docstring)."""
        split = get_field(record, 'split', int, default=None)
        if self.split is not None and split is not None and split != self.split:
            return []
        image, record_id = self._image(record, ref)
        questions = get_list(record, 'questions', str, min_len=0)
        answers = get_list(record, 'answers', str, min_len=0)
        if len(questions) != len(answers):
            raise RecordError(f"expected as many 'answers' as 'questions', got "
                              f'{len(answers)} and {len(questions)}')
        turns = [make_turn(q, a) for q, a in zip(questions, answers)]
        if self.multi_turn:
            return [self.conversation(ref, turns, image=image, id=record_id)] if turns else []
        return [self.conversation(ref, [turn], image=image, id=f'{record_id}_{k}')
                for k, turn in enumerate(turns)]

    @staticmethod
    def _image(record: Any, ref: RecordRef) -> tuple[str, str]:
        """The image name and the record id, for either form."""
        if isinstance(ref.key, str):  # dataset.json, keyed by id
            url = get_field(record, 'imageURL')
            extension = posixpath.splitext(url.split('?')[0])[1] or '.jpg'
            return f'{ref.key}{extension}', ref.key
        filename = get_field(record, 'filename')
        return filename, posixpath.splitext(posixpath.basename(filename))[0]
