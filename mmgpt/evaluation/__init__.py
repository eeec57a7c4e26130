"""Evaluation: registered metrics for the standard benchmarks.

The layer between the chat engine (:mod:`mmgpt.inference`) and the training engine.
The model's ``predict`` mode (:class:`mmgpt.models.MultiModalGPT`) generates the
answers, the evaluation datasets (:mod:`mmgpt.datasets.benchmarks`) read the public
files, and ``tools/test.py`` runs MMEngine's ``Runner.test()`` with these metrics.
"""
from .metrics import AOKVQAAcc, COCOCaption, ExactMatchAcc, InstructionMetric, KeywordAcc, VQAAcc

__all__ = ['VQAAcc', 'AOKVQAAcc', 'ExactMatchAcc', 'COCOCaption', 'InstructionMetric',
           'KeywordAcc']
