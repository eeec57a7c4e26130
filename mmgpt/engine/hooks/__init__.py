"""Training hooks: crash-safe trainable-only checkpoints, throughput, chat samples."""
from .chat_hook import EvaluateChatHook
from .checkpoint_hook import MMGPTCheckpointHook
from .export_hook import ExportWeightsHook
from .throughput_hook import TokenThroughputHook, count_tokens

__all__ = ['MMGPTCheckpointHook', 'TokenThroughputHook', 'EvaluateChatHook', 'count_tokens',
           'ExportWeightsHook']
