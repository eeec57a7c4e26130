"""Image reading and the vision tower's preprocessing (bottom layer).

:func:`read_rgb_image` decodes an image file into an upright RGB ``PIL.Image``;
:func:`build_image_transform` is the CLIP tower's evaluation preprocessing, from the same
``vision_encoder`` config dict the model uses (:mod:`mmgpt.models.vision_encoder`).
open_clip is imported when a transform is built, not when this module is imported, so
the data side imports quickly.
"""
from __future__ import annotations

import io
import os

from mmengine import fileio
from PIL import Image, ImageOps

__all__ = ['ImageLoadError', 'read_rgb_image', 'clip_model_cfg', 'build_image_transform']


#: The EXIF tag of the orientation (``PIL.ExifTags.Base.Orientation``).
_ORIENTATION = 0x0112


class ImageLoadError(OSError):
    """An image file is missing, empty, truncated or not an image."""


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB; transparent pixels become white."""
    if img.mode == 'P' and 'transparency' in img.info:
        img = img.convert('RGBA')
    if img.mode in ('RGBA', 'LA', 'PA'):
        rgba = img.convert('RGBA')
        background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert('RGB')
    return img.convert('RGB')


def read_rgb_image(path: str, backend_args: dict | None = None) -> Image.Image:
    """Read an image file as an upright RGB ``PIL.Image``.

    Any PIL mode is accepted (L, P, RGBA, CMYK...); the EXIF orientation is applied.
    The file is decoded once, and pixels are copied only when they must change: a
    rotation or flip when the EXIF orientation asks for one, a conversion when the
    mode is not RGB. An upright RGB file is returned as decoded.

    Args:
        path (str): The file (any MMEngine file backend).
        backend_args (dict, optional): MMEngine file backend arguments. Defaults to None.

    Raises:
        ImageLoadError: The file is missing, empty, truncated or not an image; the
            message names the path.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
        if not data:
            raise ValueError('the file is empty')
        img = Image.open(io.BytesIO(data))
        img.load()
        if img.getexif().get(_ORIENTATION, 1) in range(2, 9):  # a flip or a rotation
            img = ImageOps.exif_transpose(img)
        return img if img.mode == 'RGB' else _to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageLoadError(f'cannot read image {path!r}: {err}') from err


def clip_model_cfg(cfg: dict) -> dict:
    """The open_clip model config (``embed_dim``, ``vision_cfg``, ``text_cfg``) of a tower.

    Args:
        cfg (dict): The vision encoder config: its ``model_cfg`` if given, else the
            config open_clip knows under ``name``.
    """
    if cfg.get('model_cfg') is not None:
        return dict(cfg['model_cfg'])
    import open_clip  # heavy (timm, torchvision): only when a tower is configured

    model_cfg = open_clip.get_model_config(cfg['name'])
    if model_cfg is None:
        raise ValueError(
            f"open_clip has no model named {cfg['name']!r}; give `model_cfg` for a custom tower "
            f'(known: {", ".join(open_clip.list_models()[:8])}, ...)')
    return model_cfg


def build_image_transform(cfg: dict):
    """The tower's own evaluation preprocessing (resize, centre crop, normalise).

    Args:
        cfg (dict): The vision encoder config.

    Returns:
        A callable mapping an RGB ``PIL.Image`` to a ``(3, H, W)`` float tensor.
    """
    import open_clip  # heavy: only when a transform is built

    image_size = clip_model_cfg(cfg)['vision_cfg']['image_size']
    mean, std = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD
    tag = cfg.get('pretrained')
    if cfg.get('model_cfg') is None and tag and not os.path.isfile(str(tag)):
        pcfg = open_clip.get_pretrained_cfg(cfg['name'], tag) or {}
        mean, std = pcfg.get('mean', mean), pcfg.get('std', std)
    mean, std = cfg.get('mean', mean), cfg.get('std', std)
    return open_clip.image_transform(image_size, is_train=False, mean=mean, std=std)
