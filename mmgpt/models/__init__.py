"""Models: the MultiModalGPT BaseModel, its vision tower, Flamingo LM and tokenizers."""
from .flamingo_lm import add_flamingo_to_lm, infer_decoder_layers_attr, language_only
from .lora import PAPER_LORA_TARGETS, add_lora, set_trainable
from .mmgpt import OPENFLAMINGO_ALLOWED_MISSING, PAPER_LORA, MultiModalGPT
from .release import (
    ReleaseCheckpoint,
    load_checkpoint,
    map_release_state_dict,
    read_release_checkpoint,
)
from .vision_encoder import build_clip, build_vision_encoder
from .weights import CheckpointKeyError, UnsafeCheckpointError, load_weights_file, save_weights_file

__all__ = [
    'MultiModalGPT', 'PAPER_LORA', 'PAPER_LORA_TARGETS', 'OPENFLAMINGO_ALLOWED_MISSING',
    'add_flamingo_to_lm', 'infer_decoder_layers_attr', 'language_only', 'add_lora',
    'set_trainable', 'build_clip',
    'build_vision_encoder',
    'ReleaseCheckpoint', 'load_checkpoint', 'map_release_state_dict',
    'read_release_checkpoint',
    'CheckpointKeyError', 'UnsafeCheckpointError', 'load_weights_file', 'save_weights_file',
]
