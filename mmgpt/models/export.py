"""Taking a tuned model out of this codebase: a PEFT adapter, or merged plain weights.

Two layouts (``tools/export.py`` writes them; docs/export.md shows how to load them):

``peft``: the LoRA of the Flamingo language model as a peft adapter folder,
``adapter_config.json`` + ``adapter_model.safetensors``, names as
``PeftModel.save_pretrained`` writes them (``base_model.model.<module>.lora_A.weight``).
It applies to the language model *with its Flamingo layers* (open_flamingo's
``lang_encoder``), because five of the paper's targets (``to_q``, ``to_kv``, ``to_out``,
``ff.1``, ``ff.3``) live in the gated cross-attention.

``merged``: LoRA folded into the weights (W + B A alpha / r), no peft needed:

* ``lang_model/``: the plain causal LM (``save_pretrained``, safetensors) with the
  tokenizer (Flamingo tokens included): self-attention LoRA merged, embeddings as the
  model has them;
* ``checkpoint.pt``: an OpenFlamingo-format checkpoint (a plain ``torch.save`` d dict of
  tensors, ``weights_only`` loadable): ``perceiver.*``, the gated cross-attention blocks
  ``lang_encoder.<layers>.N.gated_cross_attn_layer.*`` (cross-attention LoRA merged) and
  the input embeddings, as OpenFlamingo's own ``checkpoint.pt`` holds them; plus
  ``vision_encoder.*`` when the CLIP tower is not a stock open_clip one;
* ``<tower name>.json``: the open_clip model config of a custom tower (register it with
  ``open_clip.add_model_config``);
* ``export.json`` (written by tools/export.py, in both layouts): what was exported, from
  which config and checkpoint, and the ``create_model_and_transforms`` arguments.
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import re

import torch
from torch import nn

from mmgpt.utils.fileio import atomic_write_bytes

from .weights import canonical_names, save_weights_file

__all__ = ['OPEN_FLAMINGO_CROSS_ATTN', 'OPEN_FLAMINGO_PERCEIVER', 'peft_adapter_state',
           'export_peft', 'merged_flamingo_state', 'export_merged']

#: The sizes plain open_flamingo builds (its create_model_and_transforms has no knobs).
OPEN_FLAMINGO_CROSS_ATTN = dict(heads=8, dim_head=64, ff_mult=4)
OPEN_FLAMINGO_PERCEIVER = dict(depth=6, heads=8, dim_head=64, num_latents=64, ff_mult=4)


def _lora_layers(module: nn.Module) -> dict:
    from peft.tuners.lora import LoraLayer  # lazy: peft is heavy to import

    return {name: m for name, m in module.named_modules() if isinstance(m, LoraLayer)}


def _non_lora_trainable(model) -> list:
    return [n for n in model.trainable_parameter_names() if '.lora_' not in n]


def peft_adapter_state(model) -> dict:
    """The LoRA weights in peft's saved naming, relative to the Flamingo LM.

    ``flamingo.lang_encoder.X.lora_A.default.weight`` ->
    ``base_model.model.X.lora_A.weight``.
    """
    prefix = 'flamingo.lang_encoder.'
    out = {}
    for name in model.trainable_parameter_names():
        if '.lora_' not in name:
            continue
        if not name.startswith(prefix):
            raise ValueError(f'LoRA weight {name} is outside the language model')
        key = 'base_model.model.' + name[len(prefix):].replace('.default.weight', '.weight')
        out[key] = model.get_parameter(name).detach().cpu().contiguous()
    return out


def export_peft(model, out_dir: str, base_model_name_or_path: str | None = None) -> dict:
    """Write the model's LoRA as a peft adapter folder.

    Args:
        model: A :class:`~mmgpt.models.MultiModalGPT` with its trained weights loaded.
        out_dir (str): The folder (created).
        base_model_name_or_path (str, optional): Recorded in ``adapter_config.json``.

    Returns:
        dict: What was written (file names, number of tensors).

    Raises:
        ValueError: If the model has no LoRA, or trains weights that are not LoRA (a peft
            adapter cannot carry the perceiver, say: export ``merged`` instead).
    """
    lm = model.lang_encoder
    if not getattr(lm, 'peft_config', None):
        raise ValueError('the model has no LoRA (`model.lora=None`): nothing to export as '
                         'a peft adapter; use `--to merged`')
    extra = _non_lora_trainable(model)
    if extra:
        raise ValueError(
            f'the model also trains {len(extra)} weight(s) that are not LoRA, which a peft '
            f'adapter cannot hold: {", ".join(extra[:5])}{" ..." if len(extra) > 5 else ""}; '
            'export with `--to merged` instead')
    config = lm.peft_config['default']
    config = dataclasses.replace(config, task_type='CAUSAL_LM', inference_mode=True,
                                 base_model_name_or_path=base_model_name_or_path)
    os.makedirs(out_dir, exist_ok=True)
    config.save_pretrained(out_dir)
    state = peft_adapter_state(model)
    save_weights_file(state, os.path.join(out_dir, 'adapter_model.safetensors'))
    return dict(files=['adapter_config.json', 'adapter_model.safetensors'],
                tensors=len(state))


def merged_flamingo_state(model) -> dict:
    """The Flamingo module's weights with LoRA folded in, one canonical name each.

    Returns:
        dict: Flamingo state-dict names (no ``flamingo.`` prefix, no ``base_layer``, no
        ``lora_``) -> tensors on the CPU.
    """
    flamingo = model.flamingo
    names = canonical_names(flamingo)
    full = nn.Module.state_dict(flamingo)
    state = {k: v for k, v in full.items() if names[k] == k and '.lora_' not in k}
    for name, layer in _lora_layers(flamingo).items():
        base = state.pop(f'{name}.base_layer.weight')
        delta = layer.get_delta_weight('default').to(torch.float32)
        state[f'{name}.weight'] = (base.to(torch.float32) + delta).to(base.dtype)
        if f'{name}.base_layer.bias' in state:
            state[f'{name}.bias'] = state.pop(f'{name}.base_layer.bias')
    leftover = [k for k in state if '.base_layer.' in k]
    if leftover:
        raise RuntimeError(f'unmerged LoRA base layers: {leftover[:5]}')
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _plain_lm(model, lm_state: dict):
    """A plain (no Flamingo, no LoRA) causal LM holding ``lm_state``."""
    from transformers import AutoModelForCausalLM  # lazy: heavy to import

    config = model.lang_encoder.config
    with torch.device('meta'):
        plain = AutoModelForCausalLM.from_config(config)
    missing, unexpected = plain.load_state_dict(lm_state, strict=False, assign=True)
    tied = getattr(plain, '_tied_weights_keys', None) or []
    tied = set(tied) if not isinstance(tied, dict) else set(tied)
    missing = [k for k in missing if k not in tied]
    if missing or unexpected:
        raise RuntimeError(f'merged LM does not match {type(plain).__name__}: missing '
                           f'{missing[:5]}, unexpected {unexpected[:5]}')
    if getattr(config, 'tie_word_embeddings', False):
        plain.tie_weights()
    return plain


def _torch_save_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _open_flamingo_compatible(model_cfg: dict) -> list:
    """Why plain open_flamingo cannot build this model (empty: it can)."""
    why = []
    cross = model_cfg.get('cross_attn')
    if cross and {k: cross.get(k, v) for k, v in OPEN_FLAMINGO_CROSS_ATTN.items()} != \
            OPEN_FLAMINGO_CROSS_ATTN:
        why.append(f'cross_attn={dict(cross)} (open_flamingo builds {OPEN_FLAMINGO_CROSS_ATTN})')
    perc = model_cfg.get('perceiver')
    if perc and {k: perc.get(k, v) for k, v in OPEN_FLAMINGO_PERCEIVER.items()} != \
            OPEN_FLAMINGO_PERCEIVER:
        why.append(f'perceiver={dict(perc)} (open_flamingo builds {OPEN_FLAMINGO_PERCEIVER})')
    if model_cfg.get('media_attention', 'preceding') != 'preceding':
        why.append("media_attention='following' (open_flamingo 2 attends to the preceding "
                   'image)')
    return why


def export_merged(model, model_cfg: dict, out_dir: str,
                  include_vision: bool | None = None) -> dict:
    """Write the model with LoRA merged: ``lang_model/``, ``checkpoint.pt`` and more.

    Args:
        model: A :class:`~mmgpt.models.MultiModalGPT` with its trained weights loaded.
        model_cfg (dict): Its ``model`` config (vision tower, sizes), for ``export.json``.
        out_dir (str): The folder (created).
        include_vision (bool, optional): Put the CLIP tower's weights into
            ``checkpoint.pt``. Defaults to None: when the tower is not a stock open_clip
            model with published weights (a ``model_cfg`` tower or no ``pretrained``), or
            when some of it was trained.

    Returns:
        dict: What was written, for ``export.json`` (with the arguments of
        open_flamingo's ``create_model_and_transforms``).
    """
    lm = model.lang_encoder
    attr = re.escape(lm.decoder_layers_attr_name)
    state = merged_flamingo_state(model)
    embed = _parameter_name(lm, lm.get_input_embeddings().weight)
    vis_cfg = dict(model_cfg['vision_encoder'])
    if include_vision is None:
        include_vision = bool(vis_cfg.get('model_cfg')) or not vis_cfg.get('pretrained') or \
            any(n.startswith('flamingo.vision_encoder.') for n in model.trainable_parameter_names())
    xattn = re.compile(rf'lang_encoder\.{attr}\.\d+\.gated_cross_attn_layer\.')
    layer = re.compile(rf'^({attr}\.\d+)\.decoder_layer\.')
    flamingo_ckpt, lm_state = {}, {}
    for key, value in state.items():
        if key.startswith('perceiver.') or xattn.match(key) or key == f'lang_encoder.{embed}' \
                or (include_vision and key.startswith('vision_encoder.')):
            flamingo_ckpt[key] = value
        if key.startswith('lang_encoder.') and not xattn.match(key):
            lm_state[layer.sub(r'\1.', key[len('lang_encoder.'):])] = value

    os.makedirs(out_dir, exist_ok=True)
    lm_dir = os.path.join(out_dir, 'lang_model')
    _plain_lm(model, lm_state).save_pretrained(lm_dir, safe_serialization=True)
    model.tokenizer.save_pretrained(lm_dir)
    atomic_write_bytes(_torch_save_bytes(flamingo_ckpt), os.path.join(out_dir, 'checkpoint.pt'))

    clip_name = vis_cfg['name']
    if vis_cfg.get('model_cfg'):
        clip_json = dict(vis_cfg['model_cfg'])
        clip_json.setdefault('quick_gelu', bool(vis_cfg.get('quick_gelu')))
        atomic_write_bytes(json.dumps(clip_json, indent=2).encode(),
                           os.path.join(out_dir, f'{clip_name}.json'))
    why = _open_flamingo_compatible(model_cfg)
    info = dict(
        format='merged', lang_model='lang_model', checkpoint='checkpoint.pt',
        checkpoint_keys=len(flamingo_ckpt), vision_in_checkpoint=bool(include_vision),
        create_model_and_transforms=dict(
            clip_vision_encoder_path=clip_name,
            clip_vision_encoder_pretrained=None if include_vision else vis_cfg.get('pretrained'),
            lang_encoder_path='lang_model', tokenizer_path='lang_model',
            cross_attn_every_n_layers=model_cfg.get('cross_attn_every_n_layers', 4)),
        open_clip_config=f'{clip_name}.json' if vis_cfg.get('model_cfg') else None,
        open_flamingo_compatible=not why, open_flamingo_incompatible_because=why)
    return info


def _parameter_name(module: nn.Module, tensor: torch.Tensor) -> str:
    for name, p in module.named_parameters(remove_duplicate=False):
        if p is tensor:
            return name
    raise ValueError('tensor is not a parameter of the module')
