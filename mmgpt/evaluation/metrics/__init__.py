"""Registered metrics (MMEngine ``BaseMetric``), one module per family of benchmarks."""
from .aokvqa import AOKVQAAcc, match_choice, normalize_short_answer
from .caption import COCOCaption, score_captions
from .exact_match import ExactMatchAcc
from .keyword import KeywordAcc, score_answer
from .language import InstructionMetric, rouge_l
from .vqa import VQAAcc, normalize_vqa_answer, vqa_soft_accuracy

__all__ = ['VQAAcc', 'AOKVQAAcc', 'ExactMatchAcc', 'COCOCaption', 'InstructionMetric',
           'KeywordAcc', 'normalize_vqa_answer', 'vqa_soft_accuracy', 'match_choice',
           'normalize_short_answer', 'score_captions', 'rouge_l', 'score_answer']
