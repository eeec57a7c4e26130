"""A-OKVQA: multiple-choice visual questions with rationales."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from .base import ConversationDataset, RecordRef, get_field, get_list, get_text, make_turn, pick

__all__ = ['AOKVQADataset']


@DATASETS.register_module()
class AOKVQADataset(ConversationDataset):
    """A-OKVQA ``aokvqa_v1p0_train.json`` (or ``_val``).

    A JSON list of questions on COCO 2017 images; the image is
    ``<split>2017/<image_id as 12 digits>.jpg`` below ``img_prefix`` (the COCO root)::

        [{"split": "train", "image_id": 299207, "question_id": "22MexNkBPpdZGX6sxbxVBH",
          "question": "What is the man by the bags awaiting?",
          "choices": ["skateboarder", "train", "delivery", "cab"],
          "correct_choice_idx": 3,
          "direct_answers": ["ride", "ride", "bus", "taxi", "travelling", "traffic",
                             "taxi", "cab", "cab", "his ride"],
          "difficult_direct_answer": false,
          "rationales": ["A train would not be on the street, he would not have luggage "
                         "waiting for a delivery, and the skateboarder is there and not "
                         "paying attention to him so a cab is the only possible answer.",
                         "He has bags as if he is going someone, and he is on a road "
                         "waiting for vehicle that can only be moved on the road and is "
                         "big enough to hold the bags.",
                         "He looks to be waiting for a paid ride to pick him up."]}]

    The response is ``"The answer is <choice>. Because <rationales joined by spaces>"``.
    With probability ``option_prob`` (drawn per record with its seeded generator) the
    instruction lists the choices on a second line: ``"<question>\\nOptions: skateboarder,
    train, delivery, cab"``; otherwise it is the question alone. The test split has no
    answers and cannot be used for training (its records are bad records here).

    Args:
        option_prob (float): Probability of listing the choices. Defaults to 0.5.
        **kwargs: :class:`ConversationDataset` arguments.
    """

    #: How the choices are offered after the question.
    OPTIONS_FORMAT = '{question}\nOptions: {options}'

    def __init__(self, *args, option_prob: float = 0.5, **kwargs):
        if not 0 <= option_prob <= 1:
            raise ValueError(f'AOKVQADataset: option_prob must be in [0, 1], got {option_prob}')
        self.option_prob = option_prob
        super().__init__(*args, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """Parse one record (see the class docstring)."""
        question = get_text(record, 'question')
        choices = get_list(record, 'choices', str)
        answer = pick(choices, get_field(record, 'correct_choice_idx', int),
                      "key 'correct_choice_idx' (into 'choices')")
        rationales = get_list(record, 'rationales', str)
        image_id = get_field(record, 'image_id', int)
        image = f"{get_field(record, 'split')}2017/{image_id:012d}.jpg"
        if self.rng(ref).random() < self.option_prob:
            question = self.OPTIONS_FORMAT.format(
                question=question, options=', '.join(c.strip() for c in choices))
        response = f'The answer is {answer.strip()}. Because ' + ' '.join(
            r.strip() for r in rationales)
        return self.conversation(ref, [make_turn(question, response)], image=image,
                                 id=get_field(record, 'question_id', (str, int), ref.key))
