"""Trainable parameters, checkpoint and optimizer-state size of a config, computed.

    python tools/analysis/checkpoint_size.py configs/mmgpt_joint.py [--lm-config JSON]

Counted analytically from the config (LoRA rank and targets, the decoder's sizes, the
gated cross-attention sizes): nothing is built or downloaded. The decoder's sizes come
from ``model.lang_model.config``, from ``<lang_model.path>/config.json``, from
``--lm-config``, or, for a path naming LLaMA-7B, from LLaMA-7B's published config.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config  # noqa: E402

from mmgpt.models.lora import PAPER_LORA_TARGETS  # noqa: E402

#: LLaMA-7B's config.json (the sizes that matter here).
LLAMA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)
#: open_flamingo's GatedCrossAttentionBlock defaults.
CROSS_ATTN_DEFAULTS = dict(heads=8, dim_head=64, ff_mult=4)
#: Bytes of one fp32 value; trainable weights and AdamW moments are kept in fp32.
FP32 = 4


def lm_sizes(model_cfg: dict, lm_config: str | None = None) -> dict:
    """The decoder's sizes (``hidden_size``, ``num_hidden_layers``, heads...).

    Args:
        model_cfg (dict): The ``model`` config.
        lm_config (str, optional): A ``config.json`` that overrides the lookup.

    Returns:
        dict: At least ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``.
    """
    lang = model_cfg['lang_model']
    path = lm_config or (osp.join(lang['path'], 'config.json') if lang.get('path') else None)
    if lang.get('config') is not None and lm_config is None:
        sizes = dict(lang['config'])
    elif path and osp.isfile(path):
        with open(path) as f:
            sizes = json.load(f)
    elif 'llama-7b' in str(lang.get('path', '')).lower():
        sizes = dict(LLAMA_7B)
    else:
        raise SystemExit(f'cannot find the decoder sizes: {path} does not exist; pass '
                         '--lm-config path/to/config.json')
    sizes.setdefault('num_key_value_heads', sizes['num_attention_heads'])
    return sizes


def vision_width(vision_cfg: dict) -> int:
    """Width of the vision tower's tokens (the cross-attention's key/value input)."""
    if vision_cfg.get('model_cfg') is not None:
        return int(vision_cfg['model_cfg']['vision_cfg']['width'])
    import open_clip
    return int(open_clip.get_model_config(vision_cfg['name'])['vision_cfg']['width'])


def lora_linear_shapes(model_cfg: dict, lm: dict, vis_width: int) -> dict:
    """``(in_features, out_features, count)`` of every Linear a LoRA target names.

    Args:
        model_cfg (dict): The ``model`` config.
        lm (dict): :func:`lm_sizes`.
        vis_width (int): :func:`vision_width`.

    Returns:
        dict: Target name -> ``(in, out, number of such layers)``.
    """
    h, layers = lm['hidden_size'], lm['num_hidden_layers']
    head_dim = h // lm['num_attention_heads']
    kv = lm['num_key_value_heads'] * head_dim
    xa = dict(CROSS_ATTN_DEFAULTS, **(model_cfg.get('cross_attn') or {}))
    inner, ff = xa['heads'] * xa['dim_head'], h * xa['ff_mult']
    blocks = layers // model_cfg.get('cross_attn_every_n_layers', 4)
    return {
        'q_proj': (h, h, layers), 'k_proj': (h, kv, layers), 'v_proj': (h, kv, layers),
        'o_proj': (h, h, layers),
        'to_q': (h, inner, blocks), 'to_kv': (vis_width, 2 * inner, blocks),
        'to_out': (inner, h, blocks), 'ff.1': (h, ff, blocks), 'ff.3': (ff, h, blocks),
    }


def trainable_parameters(model_cfg: dict, lm: dict, vis_width: int) -> dict:
    """LoRA parameters per target: ``r * (in + out)`` per adapted Linear.

    Args:
        model_cfg (dict): The ``model`` config (its ``lora``).
        lm (dict): :func:`lm_sizes`.
        vis_width (int): :func:`vision_width`.

    Returns:
        dict: Target name -> number of trainable parameters.
    """
    lora = model_cfg.get('lora') or {}
    targets = lora.get('target_modules', PAPER_LORA_TARGETS) if lora else ()  # model default
    shapes = lora_linear_shapes(model_cfg, lm, vis_width)
    unknown = [t for t in targets if t not in shapes]
    if unknown:
        raise SystemExit(f'no size known for LoRA targets {unknown}; known: {sorted(shapes)}')
    r = lora.get('r', 16)
    return {t: r * (shapes[t][0] + shapes[t][1]) * shapes[t][2] for t in targets}


def megabytes(num_bytes: float) -> str:
    """``'93.8 MB (89.5 MiB)'``."""
    return f'{num_bytes / 1e6:.1f} MB ({num_bytes / 2**20:.1f} MiB)'


def report(cfg: Config, lm_config: str | None = None) -> dict:
    """Compute and print the sizes of the config's trainable weights and their state.

    Args:
        cfg (Config): The training config.
        lm_config (str, optional): A decoder ``config.json``.

    Returns:
        dict: ``trainable``, ``weights_bytes``, ``optimizer_bytes``, ``per_target``.
    """
    model_cfg = cfg.model
    lm = lm_sizes(model_cfg, lm_config)
    per_target = trainable_parameters(model_cfg, lm, vision_width(model_cfg['vision_encoder']))
    total = sum(per_target.values())
    weights, optimizer = total * FP32, 2 * total * FP32  # AdamW: exp_avg + exp_avg_sq
    print(f"decoder: hidden {lm['hidden_size']}, {lm['num_hidden_layers']} layers; LoRA "
          f"r={model_cfg['lora'].get('r', 16)}")
    for target, n in per_target.items():
        print(f'  {target:<8} {n:>12,}')
    print(f'trainable parameters: {total:,}')
    print(f'checkpoint weights (fp32): {megabytes(weights)}')
    print(f'AdamW state (2 x fp32): {megabytes(optimizer)}')
    print(f'checkpoint with optimizer state: {megabytes(weights + optimizer)}')
    if model_cfg.get('unfrozen'):
        print(f"note: unfrozen={list(model_cfg['unfrozen'])} is not counted")
    return dict(trainable=total, weights_bytes=weights, optimizer_bytes=optimizer,
                per_target=per_target)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--lm-config', help="the decoder's config.json")
    args = parser.parse_args(argv)
    os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
    report(Config.fromfile(args.config), args.lm_config)


if __name__ == '__main__':
    main()
