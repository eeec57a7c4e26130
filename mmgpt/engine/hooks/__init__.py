"""Training hooks: crash-safe trainable-only checkpoints and throughput logging."""
from .checkpoint_hook import MMGPTCheckpointHook
from .throughput_hook import TokenThroughputHook, count_tokens

__all__ = ['MMGPTCheckpointHook', 'TokenThroughputHook', 'count_tokens']
