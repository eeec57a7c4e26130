"""A-OKVQA val: multiple choice and direct answer (scored by
:class:`~mmgpt.evaluation.AOKVQAAcc`)."""
from __future__ import annotations

from typing import Any

from mmgpt.registry import DATASETS

from ..base import RecordRef, get_field, get_list, get_text, pick
from .base import EvalDataset

__all__ = ['AOKVQAEvalDataset']


@DATASETS.register_module()
class AOKVQAEvalDataset(EvalDataset):
    """A-OKVQA ``aokvqa_v1p0_val.json`` (the training format, see
    :class:`~mmgpt.datasets.AOKVQADataset`); the image is
    ``<split>2017/<image_id as 12 digits>.jpg`` below ``img_prefix`` (the COCO root).

    Samples carry ``references`` (the 10 direct answers), ``choices``,
    ``correct_choice_idx`` and ``difficult_direct_answer``. The prompt fields are
    ``{question}`` and ``{options}`` (the choices joined by ", "); the default asks the
    multiple-choice question as training showed it ("<question>\\nOptions: a, b, c, d").
    For direct answer, use ``prompt='{question}'``.

    Args:
        prompt (str): Defaults to ``'{question}\\nOptions: {options}'``.
        **kwargs: :class:`EvalDataset` arguments.
    """

    def __init__(self, *args, prompt: str = '{question}\nOptions: {options}', **kwargs):
        super().__init__(*args, prompt=prompt, **kwargs)

    def parse(self, record: Any, ref: RecordRef) -> dict:
        """One question."""
        choices = [c.strip() for c in get_list(record, 'choices', str, min_len=2)]
        correct = get_field(record, 'correct_choice_idx', int, None)
        if correct is not None:
            pick(choices, correct, "key 'correct_choice_idx' (into 'choices')")
        refs = get_list(record, 'direct_answers', str) if 'direct_answers' in record else []
        image = f"{get_field(record, 'split')}2017/{get_field(record, 'image_id', int):012d}.jpg"
        return self.question(
            ref, get_text(record, 'question'), refs, image=image,
            id=get_field(record, 'question_id', (str, int)),
            prompt_fields=dict(options=', '.join(choices)), choices=choices,
            correct_choice_idx=correct,
            difficult_direct_answer=get_field(record, 'difficult_direct_answer', bool, False))
