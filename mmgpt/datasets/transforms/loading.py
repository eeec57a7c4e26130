"""Load the image of a conversation and apply the vision tower's preprocessing."""
from __future__ import annotations

from mmcv.transforms import BaseTransform

from mmgpt.registry import TRANSFORMS
from mmgpt.utils.image import ImageLoadError, build_image_transform, read_rgb_image

from .stats import count_event

__all__ = ['LoadConversationImage', 'ImageLoadError', 'read_rgb_image']


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
            image size and normalisation; see :mod:`mmgpt.models.vision_encoder`. Left
            out in configs: :func:`mmgpt.datasets.bind_model_config` fills in
            ``model.vision_encoder``.
        on_error (str): ``'skip'`` (count, warn and return None) or ``'raise'``
            (:class:`ImageLoadError` naming the path). Defaults to ``'skip'``.
        backend_args (dict, optional): MMEngine file backend arguments. Defaults to None.
    """

    def __init__(self, vision_encoder: dict | None = None, on_error: str = 'skip',
                 backend_args: dict | None = None) -> None:
        if vision_encoder is None:
            raise ValueError('LoadConversationImage needs the model\'s vision_encoder: build '
                             'the pipeline with bind_model_config(cfg, cfg.model)')
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
