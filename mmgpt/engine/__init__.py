"""Training engine: runner fixes, loop, hooks, optimizer constructor, precision."""
from .dist import init_cpu_dist
from .hooks import EvaluateChatHook, MMGPTCheckpointHook, TokenThroughputHook, count_tokens
from .loops import ResumableEpochBasedTrainLoop
from .optim import MMGPTOptimWrapperConstructor
from .precision import cast_frozen_to, resolve_dtype
from .runner import MMGPTRunner
from .test_loop import PredictionTestLoop, read_predictions
from .training_state import get_rng_state, pack_message_hub, set_rng_state, unpack_message_hub

__all__ = [
    'MMGPTRunner', 'ResumableEpochBasedTrainLoop', 'MMGPTCheckpointHook', 'TokenThroughputHook',
    'EvaluateChatHook',
    'MMGPTOptimWrapperConstructor', 'cast_frozen_to', 'resolve_dtype', 'init_cpu_dist',
    'get_rng_state', 'set_rng_state', 'pack_message_hub', 'unpack_message_hub',
    'count_tokens', 'PredictionTestLoop', 'read_predictions',
]
