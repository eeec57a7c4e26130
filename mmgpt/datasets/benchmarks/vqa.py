"""Open-ended VQA benchmarks: VQAv2 / OK-VQA, TextVQA, VizWiz, GQA (scored by
:class:`~mmgpt.evaluation.VQAAcc`, GQA by :class:`~mmgpt.evaluation.ExactMatchAcc`)."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from ..base import AnnotationError, RecordError, RecordRef, get_field, get_list, get_text
from .base import EvalDataset, answers_of, load_json_file

__all__ = ['VQAv2EvalDataset', 'TextVQAEvalDataset', 'VizWizEvalDataset', 'GQAEvalDataset']

#: The short-answer instruction of the VQA configs (LLaVA-1.5's wording).
SHORT_ANSWER_PROMPT = '{question}\nAnswer the question using a single word or phrase.'


@DATASETS.register_module()
class VQAv2EvalDataset(EvalDataset):
    """VQAv2 and OK-VQA in the official format: a questions file and an annotations file.

    ``ann_file`` is the questions file (``v2_OpenEnded_mscoco_val2014_questions.json``,
    OK-VQA's ``OpenEnded_mscoco_val2014_questions.json``)::

        {"questions": [{"image_id": 262148, "question": "Where is he looking?",
                        "question_id": 262148000}], "data_subtype": "val2014", ...}

    ``answers_file`` the annotations (``v2_mscoco_val2014_annotations.json``,
    ``mscoco_val2014_annotations.json``); without it (test-dev) nothing can be scored::

        {"annotations": [{"question_id": 262148000, "image_id": 262148,
                          "question_type": "where is the", "answer_type": "other",
                          "multiple_choice_answer": "down",
                          "answers": [{"answer": "down", "answer_confidence": "yes",
                                       "answer_id": 1}, ...]}]}

    The image is ``image_pattern`` filled with ``image_id`` below ``img_prefix``
    (``val2014/``). Samples carry ``references`` (the 10 answers), ``answer_type`` and
    ``question_type``.

    Args:
        answers_file (str, optional): The annotations file, joined with ``data_root``.
        image_pattern (str): Defaults to ``'COCO_val2014_{image_id:012d}.jpg'``.
        **kwargs: :class:`EvalDataset` arguments.
    """

    def __init__(self, *args, answers_file: str | None = None,
                 image_pattern: str = 'COCO_val2014_{image_id:012d}.jpg', **kwargs):
        self.answers_file = answers_file
        self.image_pattern = image_pattern
        self._answers: dict | None = None
        super().__init__(*args, **kwargs)

    def records(self, data: Any):
        """The ``questions`` list."""
        return self.list_records(get_field(data, 'questions', list), what="'questions'")

    def load_data_list(self) -> list[dict]:
        """Read the annotations (if any), then the questions."""
        if self.answers_file:
            path = self.answers_file
            if self.data_root and not path.startswith('/'):
                path = f'{self.data_root.rstrip("/")}/{path}'
            self._answers = self._load_answers(path)
        return super().load_data_list()

    def _load_answers(self, path: str) -> dict:
        data = load_json_file(path, f'{type(self).__name__}: answers_file')
        errors, answers = [], {}
        try:
            records = get_field(data, 'annotations', list)
        except RecordError as e:
            raise AnnotationError(f'{type(self).__name__}: {path}: top level: {e}') from None
        for index, record in enumerate(records):
            try:
                qid = get_field(record, 'question_id', (int, str))
                answers[qid] = dict(references=answers_of(record),
                                    answer_type=get_field(record, 'answer_type', str, None),
                                    question_type=get_field(record, 'question_type', str,
                                                            None))
            except RecordError as e:
                errors.append(f'  {path}: record {index}: {e}')
        if errors:
            shown = errors[:self.max_errors]
            more = len(errors) - len(shown)
            raise AnnotationError(f'{type(self).__name__}: {len(errors)} bad annotation '
                                  'record(s):\n' + '\n'.join(shown)
                                  + (f'\n  ... and {more} more' if more else ''))
        return answers

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One question, with its annotation's answers."""
        qid = get_field(record, 'question_id', (int, str))
        image_id = get_field(record, 'image_id', (int, str))
        extra = dict(references=[])
        if self._answers is not None:
            if qid not in self._answers:
                raise RecordError(f'question_id {qid!r} has no annotation in '
                                  f'{self.answers_file}')
            extra = self._answers[qid]
        try:
            image = self.image_pattern.format(image_id=image_id)
        except (ValueError, KeyError) as e:
            raise RecordError(f"image_pattern {self.image_pattern!r} cannot take image_id "
                              f'{image_id!r}: {e}') from None
        return self.question(ref, get_text(record, 'question'), image=image, id=qid, **extra)


@DATASETS.register_module()
class TextVQAEvalDataset(EvalDataset):
    """TextVQA ``TextVQA_0.5.1_val.json``: an object whose ``data`` list holds the
    questions; the image is ``<image_id>.jpg`` below ``img_prefix`` (``train_images/``,
    where the val images are too)::

        {"dataset_name": "textvqa", "dataset_type": "val", "data": [
          {"question": "what is the brand of this camera?", "image_id": "003a8ae2ef43b901",
           "question_id": 34602, "answers": ["nous les gosses", "dakota", ...],
           "image_classes": [...], "flickr_original_url": "...", "set_name": "val"}]}

    The test file has no ``answers`` (references are then empty).

    Args:
        **kwargs: :class:`EvalDataset` arguments.
    """

    def records(self, data: Any):
        """The ``data`` list."""
        return self.list_records(get_field(data, 'data', list), what="'data'")

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One question."""
        refs = get_list(record, 'answers', str) if 'answers' in record else []
        image = f"{get_field(record, 'image_id', str)}.jpg"
        return self.question(ref, get_text(record, 'question'), refs, image=image,
                             id=get_field(record, 'question_id', (int, str)))


@DATASETS.register_module()
class VizWizEvalDataset(EvalDataset):
    """VizWiz-VQA ``val.json`` (or ``test.json``, without answers): a list of questions
    on ``<image>`` below ``img_prefix`` (``val/``); the id is the image file name, as in
    VizWiz's result files::

        [{"image": "VizWiz_val_00000000.jpg", "question": "Ok. There is another picture...",
          "answers": [{"answer": "unanswerable", "answer_confidence": "yes"}, ...],
          "answer_type": "unanswerable", "answerable": 0}]

    Args:
        **kwargs: :class:`EvalDataset` arguments.
    """

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One question."""
        image = get_field(record, 'image')
        refs = answers_of(record) if 'answers' in record else []
        return self.question(ref, get_text(record, 'question'), refs, image=image, id=image,
                             answer_type=get_field(record, 'answer_type', str, None))


@DATASETS.register_module()
class GQAEvalDataset(EvalDataset):
    """GQA ``testdev_balanced_questions.json``: an object keyed by question id; the image
    is ``<imageId>.jpg`` below ``img_prefix`` (GQA's ``images/``)::

        {"20968379": {"imageId": "n288870", "question": "Do the shorts have dark color?",
                      "answer": "yes", "fullAnswer": "Yes, the shorts are dark.", ...}}

    The reference is the short ``answer`` (exact match).

    Args:
        **kwargs: :class:`EvalDataset` arguments.
    """

    def records(self, data: Any):
        """The records keyed by question id."""
        return self.dict_records(data)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One question."""
        image = f"{get_field(record, 'imageId', (str, int))}.jpg"
        return self.question(ref, get_text(record, 'question'), [get_text(record, 'answer')],
                             image=image)
