"""Evaluation datasets: each benchmark's public val/test files, read into questions with
references (see :mod:`.base`)."""
from .aokvqa import AOKVQAEvalDataset
from .base import EvalDataset, LastTurnEvalMixin
from .caption import CaptionEvalDataset, COCOKarpathyEvalDataset, Flickr30kKarpathyEvalDataset
from .instruction import AlpacaGPT4EvalDataset, DollyEvalDataset, LlavaEvalDataset
from .nlvr import NLVR2EvalDataset
from .packing import PackEvalInputs
from .vqa import GQAEvalDataset, TextVQAEvalDataset, VizWizEvalDataset, VQAv2EvalDataset

__all__ = ['EvalDataset', 'LastTurnEvalMixin', 'VQAv2EvalDataset', 'TextVQAEvalDataset',
           'VizWizEvalDataset', 'GQAEvalDataset', 'AOKVQAEvalDataset', 'CaptionEvalDataset',
           'COCOKarpathyEvalDataset', 'Flickr30kKarpathyEvalDataset', 'NLVR2EvalDataset',
           'DollyEvalDataset', 'AlpacaGPT4EvalDataset', 'LlavaEvalDataset', 'PackEvalInputs']
