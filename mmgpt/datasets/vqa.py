"""Short-answer visual question answering: VQAv2 / OK-VQA, GQA, CLEVR.

The paper left these out of its final mixture: their one- or two-word answers made the
model answer everything briefly. The loaders are here for users who want them.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordRef, get_field, get_list, get_text

__all__ = ['VQADataset', 'GQADataset', 'CLEVRDataset']


@DATASETS.register_module()
class VQADataset(ConversationDataset):
    """VQAv2 and OK-VQA in the LAVIS format (``vqa_train.json``, ``okvqa_train.json``...).

    A JSON list; ``image`` is relative to the COCO 2014 root (``img_prefix``)::

        [{"question_id": 262148000, "question": "Where is he looking?",
          "answer": ["down", "down", "at table", "skateboard", "down", "table", "down",
                     "down", "down", "down"],
          "image": "val2014/COCO_val2014_000000262148.jpg", "dataset": "vqa"}]

    The response is the most frequent answer (ties: the one listed first); a single
    string ``answer`` is used as it is. The instruction is the question.

    Args:
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        answers = get_field(record, 'answer', (str, list))
        if isinstance(answers, list):
            answers = get_list(record, 'answer', str)
            answers = Counter(a.strip() for a in answers).most_common(1)[0][0]
        return self.single_turn(
            ref, get_text(record, 'question'), answers, image=get_field(record, 'image'),
            id=get_field(record, 'question_id', (str, int), ref.key))


@DATASETS.register_module()
class GQADataset(ConversationDataset):
    """GQA questions (``train_balanced_questions.json``...): an object keyed by question id.

    The image is ``<imageId>.jpg`` below ``img_prefix`` (GQA's ``images`` folder)::

        {"02930152": {"imageId": "2354786", "question": "Is the sky dark?",
                      "answer": "yes", "fullAnswer": "Yes, the sky is dark.",
                      "types": {...}, "annotations": {...}, "semantic": [...]}}

    Args:
        use_full_answer (bool): Answer with ``fullAnswer`` (a sentence) instead of the
            short ``answer``. Defaults to False.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def __init__(self, *args, use_full_answer: bool = False, **kwargs):
        self.use_full_answer = use_full_answer
        super().__init__(*args, **kwargs)

    def records(self, data: Any):
        """The records of the object keyed by question id."""
        return self.dict_records(data)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        answer = get_text(record, 'fullAnswer' if self.use_full_answer else 'answer')
        image = f"{get_field(record, 'imageId', (str, int))}.jpg"
        return self.single_turn(ref, get_text(record, 'question'), answer, image=image)


@DATASETS.register_module()
class CLEVRDataset(ConversationDataset):
    """CLEVR v1.0 questions (``CLEVR_train_questions.json``...).

    An object with a ``questions`` list; the image is ``<split>/<image_filename>``
    below ``img_prefix`` (CLEVR's ``images`` folder)::

        {"info": {...},
         "questions": [{"image_index": 0, "split": "train",
                        "image_filename": "CLEVR_train_000000.png", "question_index": 0,
                        "question": "Are there more big green things than large metal "
                                    "cylinders?",
                        "answer": "no", "program": [...], "question_family_index": 0}]}

    The test questions have no answer and are bad records here.

    Args:
        **kwargs: :class:`ConversationDataset` arguments.
    """

    def records(self, data: Any):
        """The records of the ``questions`` list."""
        return self.list_records(get_field(data, 'questions', list), what="'questions'")

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        image = f"{get_field(record, 'split')}/{get_field(record, 'image_filename')}"
        return self.single_turn(ref, get_text(record, 'question'), get_text(record, 'answer'),
                                image=image,
                                id=get_field(record, 'question_index', int, ref.key))
