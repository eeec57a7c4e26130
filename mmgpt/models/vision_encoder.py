"""The CLIP vision tower (open_clip), built from one config.

Its image preprocessing is :func:`mmgpt.utils.image.build_image_transform` (bottom layer,
so the data pipeline does not import the model code).

Config (the same dict is used by the model and by the data pipeline)::

    vision_encoder = dict(
        name='ViT-L-14',      # an open_clip model name (or a new name with model_cfg)
        pretrained=None,      # None, a local weights file, or an open_clip tag ('openai')
        model_cfg=None,       # a CLIP config dict for towers open_clip does not know
        quick_gelu=None,      # None: True for the 'openai' tag, else open_clip's default
    )
"""
from __future__ import annotations

import os

import open_clip
from torch import nn

from mmgpt.utils.image import clip_model_cfg

__all__ = ['build_clip', 'build_vision_encoder', 'vision_width']

_OPENAI_TAG = 'openai'


def vision_width(cfg: dict) -> int:
    """Width of the patch tokens the tower outputs (the perceiver's ``dim``)."""
    return int(clip_model_cfg(cfg)['vision_cfg']['width'])


def _quick_gelu(cfg: dict) -> bool:
    if cfg.get('quick_gelu') is not None:
        return bool(cfg['quick_gelu'])
    return cfg.get('pretrained') == _OPENAI_TAG


def build_clip(cfg: dict, **kwargs) -> nn.Module:
    """Build the whole open_clip ``CLIP`` (both towers) of a vision encoder config.

    Args:
        cfg (dict): See the module docstring.
        **kwargs: Extra ``open_clip.CLIP`` arguments for a ``model_cfg`` tower (e.g.
            ``output_dict=True``).

    Returns:
        nn.Module: The CLIP model, with the ``pretrained`` weights loaded strictly.
    """
    pretrained = cfg.get('pretrained')
    if cfg.get('model_cfg') is not None:
        model_cfg = dict(cfg['model_cfg'])
        model_cfg.setdefault('quick_gelu', _quick_gelu(cfg))
        clip = open_clip.CLIP(**model_cfg, **kwargs)
        if pretrained:
            if not os.path.isfile(pretrained):
                raise FileNotFoundError(
                    f'vision encoder weights {pretrained!r} not found (a local weights file '
                    f'is expected for the custom tower {cfg.get("name")!r})')
            open_clip.load_checkpoint(clip, pretrained, strict=True, weights_only=True)
        return clip
    if pretrained and pretrained != _OPENAI_TAG and not os.path.isfile(pretrained):
        tags = open_clip.list_pretrained_tags_by_model(cfg['name'])
        if pretrained not in tags:
            raise FileNotFoundError(
                f'vision encoder weights {pretrained!r} not found: give a local file, '
                f'None, or an open_clip tag of {cfg["name"]} ({", ".join(tags)})')
    return open_clip.create_model(
        cfg['name'], pretrained=pretrained, force_quick_gelu=_quick_gelu(cfg),
        weights_only=True, **kwargs)


def build_vision_encoder(cfg: dict) -> nn.Module:
    """Build the open_clip visual tower that returns patch tokens.

    Args:
        cfg (dict): See the module docstring.

    Returns:
        nn.Module: ``CLIP.visual`` with ``output_tokens=True``; calling it returns
        ``(pooled, tokens)`` with tokens of shape ``(B, num_patches, width)``.
    """
    visual = build_clip(cfg).visual
    visual.output_tokens = True
    return visual
