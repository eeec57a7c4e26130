"""The embedded demo: a synthetic "shapes world" data set and its evaluation tasks."""
from .eval_splits import write_eval_splits
from .eval_tasks import format_table, score_answer, summarize, summary_from_metrics
from .shapes_world import generate_shapes_world

__all__ = ['generate_shapes_world', 'score_answer', 'summarize', 'format_table',
           'summary_from_metrics', 'write_eval_splits']
