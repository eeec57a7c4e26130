"""Training engine: runner fixes, loop, hooks, optimizer constructor, precision."""
from .dist import init_cpu_dist
from .hooks import (
                    EvaluateChatHook,
                    ExportWeightsHook,
                    MMGPTCheckpointHook,
                    TokenThroughputHook,
                    count_tokens,
)
from .loops import ResumableEpochBasedTrainLoop
from .optim import MMGPTOptimWrapperConstructor
from .precision import cast_frozen_to, resolve_dtype
from .runner import MMGPTFlexibleRunner, MMGPTRunner
from .schedulers import CheckpointableOneCycleLR
from .strategies import (
                    MMGPTDeepSpeedStrategy,
                    MMGPTFSDPStrategy,
                    deepspeed_optim_wrapper,
                    fsdp_unit_policy,
                    sharded_clip_grad_norm_,
)
from .test_loop import PredictionTestLoop, read_predictions
from .training_state import get_rng_state, pack_message_hub, set_rng_state, unpack_message_hub

__all__ = [
    'MMGPTRunner', 'MMGPTFlexibleRunner', 'ResumableEpochBasedTrainLoop',
    'MMGPTCheckpointHook', 'TokenThroughputHook', 'EvaluateChatHook', 'ExportWeightsHook',
    'MMGPTOptimWrapperConstructor', 'cast_frozen_to', 'resolve_dtype', 'init_cpu_dist',
    'get_rng_state', 'set_rng_state', 'pack_message_hub', 'unpack_message_hub',
    'count_tokens', 'MMGPTDeepSpeedStrategy', 'MMGPTFSDPStrategy', 'fsdp_unit_policy',
    'sharded_clip_grad_norm_', 'deepspeed_optim_wrapper', 'CheckpointableOneCycleLR',
    'PredictionTestLoop', 'read_predictions',
]
