"""The bottom layer: file I/O, image reading, dtypes; importable from every other layer.

Nothing here imports from another ``mmgpt`` package (only :mod:`mmgpt.registry`).
"""
from .fileio import atomic_replace, atomic_replace_dir, atomic_write_bytes
from .image import ImageLoadError, build_image_transform, clip_model_cfg, read_rgb_image
from .precision import cast_frozen_to, resolve_dtype
from .threads import set_torch_threads

__all__ = ['atomic_write_bytes', 'atomic_replace', 'atomic_replace_dir', 'ImageLoadError',
           'read_rgb_image',
           'build_image_transform', 'clip_model_cfg', 'cast_frozen_to', 'resolve_dtype',
           'set_torch_threads']
