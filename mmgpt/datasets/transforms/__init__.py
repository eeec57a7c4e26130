"""Data transforms: load the image, render + tokenize the template, pack the inputs."""
from .formatting import PackInputs
from .loading import ImageLoadError, LoadConversationImage, read_rgb_image
from .stats import count_event, data_stats, reset_data_stats
from .tokenize import TokenizeConversation, truncate_at_turn

__all__ = [
    'LoadConversationImage', 'ImageLoadError', 'read_rgb_image', 'TokenizeConversation',
    'truncate_at_turn', 'PackInputs', 'count_event', 'data_stats', 'reset_data_stats',
]
