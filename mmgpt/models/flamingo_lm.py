"""The Flamingo language model: open_flamingo's mixin, fixed for transformers 5.

open_flamingo 2.0.1 adds gated cross-attention to a Hugging Face causal LM with
``FlamingoLMMixin`` and wraps each decoder layer in ``FlamingoLayer``. Three things in it
do not work with the current stack, so this module subclasses both at the narrowest
point and leaves everything else (the attention, the gates, media locations, the cache
logic) to open_flamingo:

1. ``FlamingoLMMixin.forward(self, input_ids, attention_mask, **kw)`` requires both
   arguments; transformers 5's ``generate()`` may call it without an attention mask
   (``TypeError: ... missing 1 required positional argument: 'attention_mask'``).
2. ``FlamingoLayer.forward(lang_x, attention_mask=None, **kw)`` binds the second
   positional argument to ``attention_mask``; GPT-2 blocks in transformers 5 are called
   as ``block(hidden_states, cache, causal_mask, ...)``, so the cache would become the
   mask. Our layer passes every argument through unchanged.
3. There is no way to run the LM without images: a layer with cross-attention raises
   ``ValueError: vis_x must be conditioned before forward pass``. Language-only samples
   (half of MultiModal-GPT's joint training) must run the plain LM, so each layer gets a
   ``skip_cross_attn`` switch, set for one forward by :func:`language_only`.

KV-cached generation keeps attending to the conditioned image through the mixin's own
public flag ``reuse_conditioned_media`` (set by :func:`reusing_media`), where
open_flamingo's ``Flamingo.generate`` writes its private ``_use_cached_vision_x``. The
open_flamingo internals these subclasses rely on are pinned by
tests/test_package/test_upstream_guards.py.

Cross-attention sizes (heads, dim_head, ff_mult) are configurable for tiny models; the
defaults are open_flamingo's (and OpenFlamingo-9B's).

Which image a token attends to (``media_attention``): ``'preceding'`` (this project's and
open_flamingo 2's rule: text attends to the last ``<image>`` at or before it, and cached
decoding keeps attending to it) or ``'following'``, the rule of the open_flamingo v1 code
that the MultiModal-GPT release trained and chatted with (``attend_previous=False``): a
token attends to the first image at or after it, so text after the last image, and every
token generated with the KV cache, attends to no image (the gated feed-forward still
runs). ``'following'`` exists to reproduce the release's numbers (``configs/mmgpt_release_v0.py``).
"""
from __future__ import annotations

import contextlib

import torch
from open_flamingo.src.flamingo_lm import FlamingoLayer, FlamingoLMMixin
from open_flamingo.src.helpers import GatedCrossAttentionBlock
from open_flamingo.src.utils import extend_instance
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ['MMGPTFlamingoLayer', 'MMGPTFlamingoLMMixin', 'add_flamingo_to_lm',
           'infer_decoder_layers_attr', 'language_only', 'reusing_media', 'MEDIA_ATTENTION']

#: The rules for which image a token attends to (see the module docstring).
MEDIA_ATTENTION = ('preceding', 'following')

#: Where each supported family keeps its decoder layers (by ``config.model_type``).
DECODER_LAYERS_ATTR = {
    'llama': 'model.layers',
    'mistral': 'model.layers',
    'qwen2': 'model.layers',
    'opt': 'model.decoder.layers',
    'gpt_neox': 'gpt_neox.layers',  # Pythia, RedPajama-INCITE
    'gptj': 'transformer.h',
    'gpt2': 'transformer.h',
}


def infer_decoder_layers_attr(lm: nn.Module) -> str:
    """Return the dotted attribute of ``lm``'s decoder layer list.

    Args:
        lm (nn.Module): A Hugging Face causal language model.

    Returns:
        str: e.g. ``'model.layers'`` for LLaMA.

    Raises:
        ValueError: For an unknown family; pass ``decoder_layers_attr`` in the config.
    """
    model_type = getattr(getattr(lm, 'config', None), 'model_type', None)
    if model_type in DECODER_LAYERS_ATTR:
        return DECODER_LAYERS_ATTR[model_type]
    raise ValueError(
        f'cannot infer the decoder layer list of {type(lm).__name__} (model_type '
        f'{model_type!r}); known: {sorted(DECODER_LAYERS_ATTR)}. Set '
        "`lang_model=dict(..., decoder_layers_attr='model.layers')` in the config.")


class MMGPTFlamingoLayer(FlamingoLayer):
    """``FlamingoLayer`` that passes all arguments through and can skip cross-attention.

    Attributes:
        skip_cross_attn (bool): When True the layer is exactly the wrapped decoder layer
            (used for language-only samples).
        checkpoint_activations (bool): When True, training forwards keep only the
            layer's input and recompute the gated cross-attention and the decoder layer
            in the backward pass (``torch.utils.checkpoint``, non-reentrant). The image
            latents and media locations are passed to the recomputation explicitly: the
            model clears them from the layer right after the forward.
        media_attention (str): ``'preceding'`` or ``'following'`` (module docstring).
    """

    skip_cross_attn = False
    checkpoint_activations = False
    media_attention = 'preceding'

    def forward(self, hidden_states, *args, **kwargs):  # noqa: D102
        cross = self.gated_cross_attn_layer is not None and not self.skip_cross_attn
        if cross and (self.vis_x is None or self.media_locations is None):
            raise ValueError(
                'no image is conditioned on this Flamingo layer: encode images first, '
                'or run a language-only forward (mmgpt.models.flamingo_lm.language_only)')
        media = ((self.vis_x, self.media_locations, self.use_cached_media) if cross
                 else (None, None, False))
        if self.checkpoint_activations and self.training and torch.is_grad_enabled():
            # a KV cache would be filled twice (forward and recomputation)
            for key in ('cache', 'past_key_values', 'layer_past'):
                if kwargs.get(key) is not None:
                    kwargs[key] = None
            if kwargs.get('use_cache'):
                kwargs['use_cache'] = False
            return checkpoint(self._layer_forward, hidden_states, *media, *args,
                              use_reentrant=False, **kwargs)
        return self._layer_forward(hidden_states, *media, *args, **kwargs)

    def _layer_forward(self, hidden_states, vis_x, media_locations, use_cached_media, *args,
                       **kwargs):
        """Gated cross-attention (when ``vis_x`` is given), then the decoder layer."""
        if vis_x is not None and self.media_attention == 'following':
            hidden_states = _cross_attn_following(
                self.gated_cross_attn_layer, hidden_states, vis_x, media_locations,
                use_cached_media)
        elif vis_x is not None:
            hidden_states = self.gated_cross_attn_layer(
                hidden_states, vis_x, media_locations=media_locations,
                use_cached_media=use_cached_media)
        return self.decoder_layer(hidden_states, *args, **kwargs)


def _cross_attn_following(block, x, media, media_locations, use_cached_media):
    """A ``GatedCrossAttentionBlock`` where each token attends to the next image (v1 rule).

    open_flamingo 2 attends token i to image ``cumsum(media_locations)[i]``; the v1 rule
    is image ``(images strictly before i) + 1``, and no image when that exceeds the
    number of images. Shifting the locations right by one, with a virtual image at
    position 0, makes the first equal the second; the rows with no image are then zeroed
    (v1 zeroes them too; ``to_out`` has no bias, so this is the same output).
    """
    if use_cached_media:  # every cached step comes after the last image: no image
        attn = torch.zeros_like(x)
    else:
        before = media_locations.cumsum(-1) - media_locations.long()
        shifted = torch.ones_like(media_locations)
        shifted[:, 1:] = media_locations[:, :-1]
        attn = block.attn(x, media, media_locations=shifted)
        has_image = before < media_locations.sum(-1, keepdim=True)
        attn = attn * has_image.unsqueeze(-1).to(attn.dtype)
    x = attn * block.attn_gate.tanh() + x
    return block.ff(x) * block.ff_gate.tanh() + x


class MMGPTFlamingoLMMixin(FlamingoLMMixin):
    """open_flamingo's LM mixin with a transformers-5 forward and configurable blocks."""

    #: Keyword arguments for ``GatedCrossAttentionBlock`` (heads, dim_head, ff_mult).
    cross_attn_kwargs: dict = {}

    def init_flamingo(self, media_token_id, lang_hidden_size, vis_hidden_size,
                      cross_attn_every_n_layers, gradient_checkpointing):
        """Insert a gated cross-attention block before every n-th decoder layer."""
        self.old_decoder_blocks = self._get_decoder_layers()
        self.gated_cross_attn_layers = nn.ModuleList([
            GatedCrossAttentionBlock(
                dim=lang_hidden_size, dim_visual=vis_hidden_size, **self.cross_attn_kwargs)
            if (idx + 1) % cross_attn_every_n_layers == 0 else None
            for idx in range(len(self.old_decoder_blocks))
        ])
        self.init_flamingo_layers(gradient_checkpointing)
        self.media_token_id = media_token_id
        self.initialized_flamingo = True
        #: Keep using the conditioned image latents on steps without a media token
        #: (KV-cached generation); see :func:`reusing_media`.
        self.reuse_conditioned_media = False

    def init_flamingo_layers(self, gradient_checkpointing):
        """Wrap the decoder layers in :class:`MMGPTFlamingoLayer`."""
        self._set_decoder_layers(nn.ModuleList([
            MMGPTFlamingoLayer(xattn, block, gradient_checkpointing)
            for xattn, block in zip(self.gated_cross_attn_layers, self.old_decoder_blocks)
        ]))

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        """Condition the layers on the media locations, then run the wrapped LM.

        Same logic as open_flamingo's, with both arguments optional (transformers 5's
        ``generate`` may omit the mask; the ids are required for media locations).
        """
        if input_ids is None:
            raise ValueError('the Flamingo LM needs input_ids (media locations are read '
                             'from them); inputs_embeds alone is not supported')
        if not self._skip_cross_attn():
            media_locations = input_ids == self.media_token_id
            use_cached = (self.reuse_conditioned_media and self.is_conditioned()
                          and not media_locations.any())
            for layer in self._get_decoder_layers():
                if not use_cached:
                    layer.condition_media_locations(media_locations)
                layer.condition_use_cached_media(use_cached)
        return super(FlamingoLMMixin, self).forward(
            input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _flamingo_layers(self) -> list:
        """The :class:`MMGPTFlamingoLayer` of every decoder layer, inside any wrapper
        (an FSDP unit forwards method calls, but an attribute set on it stays there)."""
        layers = []
        for layer in self._get_decoder_layers():
            while not isinstance(layer, MMGPTFlamingoLayer) and isinstance(
                    getattr(layer, 'module', None), nn.Module):
                layer = layer.module
            layers.append(layer)
        return layers

    def _skip_cross_attn(self) -> bool:
        return all(layer.skip_cross_attn for layer in self._flamingo_layers())

    def set_activation_checkpointing(self, enabled: bool):
        """Checkpoint every decoder layer with its gated cross-attention (training only)."""
        for layer in self._flamingo_layers():
            layer.checkpoint_activations = enabled

    def set_media_attention(self, rule: str):
        """Set which image tokens attend to: ``'preceding'`` or ``'following'``."""
        if rule not in MEDIA_ATTENTION:
            raise ValueError(f'media_attention must be one of {MEDIA_ATTENTION}, got {rule!r}')
        for layer in self._flamingo_layers():
            layer.media_attention = rule

    def set_skip_cross_attn(self, skip: bool):
        """Switch the gated cross-attention off (True) or on (False) in every layer."""
        for layer in self._flamingo_layers():
            layer.skip_cross_attn = skip


@contextlib.contextmanager
def language_only(lm):
    """Run ``lm`` as the plain language model inside the ``with`` block."""
    lm.set_skip_cross_attn(True)
    try:
        yield lm
    finally:
        lm.set_skip_cross_attn(False)


@contextlib.contextmanager
def reusing_media(lm):
    """Inside the block, cached decoding steps keep attending to the conditioned image.

    Generation conditions the layers on the prompt's images once; later steps feed one
    new token (no media token in it) and must reuse those latents and media locations.
    """
    lm.reuse_conditioned_media = True
    try:
        yield lm
    finally:
        lm.reuse_conditioned_media = False


def add_flamingo_to_lm(lm: nn.Module, decoder_layers_attr: str | None = None,
                       cross_attn_kwargs: dict | None = None) -> nn.Module:
    """Turn a Hugging Face causal LM into a Flamingo LM in place (before ``Flamingo()``).

    Args:
        lm (nn.Module): The language model.
        decoder_layers_attr (str, optional): Dotted path of its decoder layer list.
            Defaults to None (inferred from ``config.model_type``).
        cross_attn_kwargs (dict, optional): ``GatedCrossAttentionBlock`` sizes.
            Defaults to None (open_flamingo's: 8 heads of 64, ff_mult 4).

    Returns:
        nn.Module: The same object, now also an :class:`MMGPTFlamingoLMMixin`.
    """
    attr = decoder_layers_attr or infer_decoder_layers_attr(lm)
    extend_instance(lm, MMGPTFlamingoLMMixin)
    lm.set_decoder_layers_attr_name(attr)
    lm.cross_attn_kwargs = dict(cross_attn_kwargs or {})
    return lm

