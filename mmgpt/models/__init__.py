"""Models: the MultiModalGPT BaseModel, its vision tower, Flamingo LM and tokenizers."""
from .tokenizer import build_tokenizer
from .vision_encoder import build_image_transform, build_vision_encoder

__all__ = ['build_tokenizer', 'build_image_transform', 'build_vision_encoder']
