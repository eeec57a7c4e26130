"""Load the image of a conversation and apply the vision tower's preprocessing."""
from __future__ import annotations

import io

from mmcv.transforms import BaseTransform
from mmengine import fileio
from PIL import Image, ImageOps

from mmgpt.models.vision_encoder import build_image_transform
from mmgpt.registry import TRANSFORMS

from .stats import count_event

__all__ = ['LoadConversationImage', 'ImageLoadError', 'read_rgb_image']


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
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            return _to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageLoadError(f'cannot read image {path!r}: {err}') from err


@TRANSFORMS.register_module()
class LoadConversationImage(BaseTransform):
    """Load a conversation's image and preprocess it for the vision tower.

    Language-only conversations (``image`` is None) pass through unchanged.

    Required Keys:

    - image (str | None): the image path.

    Modified Keys:

    - image (torch.Tensor): ``(3, H, W)`` float tensor from the tower's own
      preprocessing (resize, centre crop, normalise).

    Added Keys:

    - img_path (str): the path that was read.
    - ori_shape (tuple): ``(height, width)`` of the upright image.

    A missing, empty or unreadable image is counted (``image_skipped``, see
    :mod:`mmgpt.datasets.transforms.stats`) and logged, and the transform returns None:
    MMEngine's ``BaseDataset.__getitem__`` then fetches a random other index of the same
    dataset (so of the same modality), at most ``max_refetch`` times.

    Args:
        vision_encoder (dict): The vision encoder config (the model's), which fixes the
            image size and normalisation; see :mod:`mmgpt.models.vision_encoder`.
        on_error (str): ``'skip'`` (count, warn and return None) or ``'raise'``
            (:class:`ImageLoadError` naming the path). Defaults to ``'skip'``.
        backend_args (dict, optional): MMEngine file backend arguments. Defaults to None.
    """

    def __init__(self, vision_encoder: dict, on_error: str = 'skip',
                 backend_args: dict | None = None) -> None:
        if on_error not in ('skip', 'raise'):
            raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
        self.on_error = on_error
        self.backend_args = backend_args
        self.image_transform = build_image_transform(dict(vision_encoder))

    def transform(self, results: dict) -> dict | None:
        """Load and preprocess ``results['image']``; None to skip the sample."""
        path = results.get('image')
        if path is None:
            return results
        try:
            img = read_rgb_image(path, self.backend_args)
        except ImageLoadError as err:
            if self.on_error == 'raise':
                raise
            count_event('image_skipped', f'{err} (sample {results.get("id", "?")!r} of '
                        f'{results.get("source", "?")}); another sample is used instead')
            return None
        results['img_path'] = path
        results['ori_shape'] = (img.height, img.width)
        results['image'] = self.image_transform(img)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(on_error={self.on_error!r})'
