"""Per-GPU training memory of a config under each engine, computed (not measured).

    python tools/analysis/memory_estimate.py CONFIG [--card-gb 24] [--gpus 8]
        [--engine ddp|zero2|zero3|fsdp|all] [--precision fp32|bf16]
        [--checkpointing|--no-checkpointing] [--seq-len L] [--json-out FILE]

Counts, from the config's sizes (nothing is built or downloaded; LLaMA-7B's published
shapes for a path naming it, as tools/analysis/checkpoint_size.py), the bytes one GPU holds:

* frozen weights: every parameter of the LM, the gated cross-attention blocks, the CLIP
  tower and the perceiver, at 4 (fp32) or 2 (bf16) bytes; divided by the number of GPUs
  under ZeRO-3 and FSDP, which also hold the gathered weights of ~2 layers at a time;
* trainable (LoRA) weights, gradients and AdamW state: fp32 weights 4 B + grads 4 B +
  moments 8 B per parameter under DDP; under DeepSpeed bf16 a 2 B copy for the forward,
  2 B grads and 4 B master + 8 B moments partitioned over the GPUs (ZeRO-3 partitions the
  copy too); under FSDP 4 B weights + 8 B moments sharded, 4 B grads unsharded during
  gradient accumulation;
* activations kept for the backward pass, per token (e = 2 or 4 bytes per element,
  h hidden, f feed-forward width, V vocabulary): a LLaMA layer e*(6h + 4f); a gated
  cross-attention block, VL tokens only, e*(6h + 2f_x + 2*inner + 2*heads*M) with f_x its
  feed-forward width and M the image latents; the loss's fp32 log-softmax 4V; with
  activation checkpointing only each layer's input e*h (plus one layer's full
  activations while it is recomputed). These coefficients were fitted to what autograd
  saves in the tiny model (benchmark_train.py's saved-tensor count, fp32, 4 vs 8 layers:
  3,608 B per layer and token against e*(6h + 4f) = 3,584 B). Attention is taken as fused
  (SDPA: no T x T scores stored), so activations grow linearly with the sequence;
* a fixed allowance for the CUDA context and allocator (``--overhead-gb``, 1.5 GB).

It also reports the longest sequence (per sample, the per-rank batch of the config) that
fits ``--card-gb``. tests/test_engine/test_benchmark_tools.py checks the weight and
activation terms against what tools/analysis/benchmark_train.py measures on the tiny
config on CPU.
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from checkpoint_size import (  # noqa: E402
    CROSS_ATTN_DEFAULTS,
    lm_sizes,
    trainable_parameters,
    vision_width,
)
from mmengine.config import Config, DictAction  # noqa: E402

ENGINES = ('ddp', 'zero2', 'zero3', 'fsdp')
#: open_flamingo's PerceiverResampler defaults.
PERCEIVER_DEFAULTS = dict(depth=6, heads=8, dim_head=64, num_latents=64, ff_mult=4)
GB = 1e9


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--card-gb', type=float, default=24.0, help='memory of one GPU')
    parser.add_argument('--gpus', type=int, default=None,
                        help='GPUs sharing the work (default: 1 for ddp, 8 otherwise)')
    parser.add_argument('--engine', choices=ENGINES + ('all', 'config'), default='all')
    parser.add_argument('--precision', choices=['fp32', 'bf16'], default=None,
                        help='of the frozen weights and activations (default: bf16 for '
                        'DeepSpeed/FSDP, and for ddp as with tools/train.py --amp)')
    parser.add_argument('--checkpointing', action=argparse.BooleanOptionalAction,
                        default=None, help='activation checkpointing (default: the config)')
    parser.add_argument('--seq-len', type=int, default=None, help='tokens per sequence')
    parser.add_argument('--overhead-gb', type=float, default=1.5,
                        help='CUDA context + allocator slack (0 for a CPU comparison)')
    parser.add_argument('--json-out', default=None)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='e.g. a 13B decoder: model.lang_model.config.hidden_size=5120 ...')
    return parser.parse_args(argv)


def vision_sizes(vision_cfg: dict) -> dict:
    """Width, layers, tokens per image and parameters of the CLIP vision tower."""
    if vision_cfg.get('model_cfg') is not None:
        model = vision_cfg['model_cfg']
    else:
        import open_clip
        model = open_clip.get_model_config(vision_cfg['name'])
    v = model['vision_cfg']
    w, layers, patch, size = v['width'], v['layers'], v['patch_size'], v['image_size']
    grid = size // patch
    mlp = int(w * v.get('mlp_ratio', 4.0))
    params = (3 * patch * patch * w + w + (grid * grid + 1) * w + 4 * w
              + layers * (4 * w * w + 2 * w * mlp + 9 * w + mlp) + w * model['embed_dim'])
    return dict(width=w, layers=layers, tokens=grid * grid + 1, params=params)


def model_sizes(model_cfg: dict) -> dict:
    """Parameter counts by part and the shapes the activation terms need."""
    lm = lm_sizes(model_cfg)
    h, layers, f = lm['hidden_size'], lm['num_hidden_layers'], lm['intermediate_size']
    head_dim = h // lm['num_attention_heads']
    kv = lm['num_key_value_heads'] * head_dim
    vocab = lm['vocab_size'] + (3 if model_cfg['lang_model'].get('path') else 0)
    vis = vision_sizes(model_cfg['vision_encoder'])
    vw = vision_width(model_cfg['vision_encoder'])
    xa = dict(CROSS_ATTN_DEFAULTS, **(model_cfg.get('cross_attn') or {}))
    inner, fx = xa['heads'] * xa['dim_head'], h * xa['ff_mult']
    blocks = layers // model_cfg.get('cross_attn_every_n_layers', 4)
    pc = dict(PERCEIVER_DEFAULTS, **(model_cfg.get('perceiver') or {}))
    p_inner = pc['heads'] * pc['dim_head']
    perceiver = (pc['num_latents'] * vw + 2 * vw + pc['depth'] * (
        4 * vw + vw * p_inner + vw * 2 * p_inner + p_inner * vw
        + 2 * vw + 2 * vw * vw * pc['ff_mult']))
    llama = (2 * vocab * h + h + layers * (2 * h * h + 2 * h * kv + 3 * h * f + 2 * h))
    cross = blocks * (2 + 2 * h + h * inner + vw * 2 * inner + inner * h
                      + 2 * h + 2 * h * fx)
    trainable = sum(trainable_parameters(model_cfg, lm, vw).values())
    return dict(hidden=h, layers=layers, ffn=f, vocab=vocab, blocks=blocks, inner=inner,
                xa_heads=xa['heads'], xa_ffn=fx, latents=pc['num_latents'],
                frozen=dict(llama=llama, cross_attn=cross, vision=vis['params'],
                            perceiver=perceiver),
                trainable=trainable, layer_params=2 * h * h + 2 * h * kv + 3 * h * f)


def activation_bytes(s: dict, vl: int, lang: int, seq: int, elem: int,
                     checkpointing: bool) -> dict:
    """Bytes of activations kept for the backward pass on one rank (see the docstring)."""
    h, f, V = s['hidden'], s['ffn'], s['vocab']
    t_all, t_vl = (vl + lang) * seq, vl * seq
    layer = elem * (6 * h + 4 * f)
    block = elem * (6 * h + 2 * s['xa_ffn'] + 2 * s['inner'] + 2 * s['xa_heads'] * s['latents'])
    head = 4 * V  # the fp32 log-softmax the loss keeps (the frozen lm_head keeps no input)
    if checkpointing:
        kept = elem * h * (s['layers'] * t_all + s['blocks'] * t_vl)
        recompute = layer * t_all + block * t_vl  # one layer's activations at a time
        layers = kept + recompute
    else:
        layers = layer * s['layers'] * t_all + block * s['blocks'] * t_vl
    return dict(layers=layers, lm_head=head * t_all, embeddings=elem * h * t_all,
                total=layers + head * t_all + elem * h * t_all)


def estimate(cfg: Config, engine: str, gpus: int, precision: str, checkpointing: bool,
             seq: int, vl: int, lang: int, overhead_gb: float) -> dict:
    """The per-GPU memory of one engine, in bytes, by item."""
    s = model_sizes(cfg.model)
    elem = 2 if precision == 'bf16' else 4
    frozen = sum(s['frozen'].values())
    n = s['trainable']
    shard = gpus if engine in ('zero3', 'fsdp') else 1
    items = dict(frozen_weights=frozen * elem / shard)
    if engine in ('zero3', 'fsdp'):
        items['gathered_layers'] = 2 * s['layer_params'] * elem  # current + prefetched
    if engine == 'ddp':
        items.update(lora_weights=4 * n, lora_grads=4 * n, optimizer=8 * n)
    elif engine in ('zero2', 'zero3'):
        copy = 2 * n / (gpus if engine == 'zero3' else 1)
        items.update(lora_weights=copy + 4 * n / gpus, lora_grads=2 * n + 4 * n / gpus,
                     optimizer=8 * n / gpus)
    else:  # fsdp
        items.update(lora_weights=4 * n / gpus, lora_grads=4 * n, optimizer=8 * n / gpus)
    act = activation_bytes(s, vl, lang, seq, elem, checkpointing)
    items['activations'] = act['total']
    items['overhead'] = overhead_gb * GB
    return dict(engine=engine, gpus=gpus, precision=precision, checkpointing=checkpointing,
                seq_len=seq, items=items, total=sum(items.values()), activations=act,
                params=dict(frozen=frozen, trainable=n, **s['frozen']))


def longest_fitting(cfg, engine, gpus, precision, checkpointing, vl, lang, overhead_gb,
                    card_bytes: float) -> int | None:
    """The longest sequence (multiple of 64, up to 65536) that fits ``card_bytes``."""
    best = None
    for seq in range(64, 65537, 64):
        if estimate(cfg, engine, gpus, precision, checkpointing, seq, vl, lang,
                    overhead_gb)['total'] > card_bytes:
            break
        best = seq
    return best


def main(argv=None) -> list[dict]:
    """Print the estimates (and write them as JSON with ``--json-out``)."""
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__))))
    from benchmark_train import batch_shape
    shape = batch_shape(cfg, args.seq_len)
    strategy = cfg.get('strategy') or {}
    stage = strategy.get('zero_optimization', {}).get('stage', 2)
    configured = {'MMGPTDeepSpeedStrategy': f'zero{stage}',
                  'MMGPTFSDPStrategy': 'fsdp'}.get(strategy.get('type'), 'ddp')
    engines = ENGINES if args.engine == 'all' else (
        (configured, ) if args.engine == 'config' else (args.engine, ))
    ckpt = (bool(cfg.model.get('gradient_checkpointing', False)) if args.checkpointing is None
            else args.checkpointing)
    results = []
    print(f'{args.config}: per rank {shape["vl"]} VL + {shape["lang"]} language sequences of '
          f'{shape["seq_len"]} tokens; activation checkpointing {"on" if ckpt else "off"}; '
          f'card {args.card_gb:g} GB (COMPUTED ESTIMATES, not measurements)')
    for engine in engines:
        gpus = args.gpus or (1 if engine == 'ddp' else 8)
        precision = args.precision or 'bf16'
        est = estimate(cfg, engine, gpus, precision, ckpt, shape['seq_len'], shape['vl'],
                       shape['lang'], args.overhead_gb)
        est['fits_card'] = est['total'] <= args.card_gb * GB
        est['longest_seq_that_fits'] = longest_fitting(
            cfg, engine, gpus, precision, ckpt, shape['vl'], shape['lang'],
            args.overhead_gb, args.card_gb * GB)
        results.append(est)
        parts = ', '.join(f'{k} {v / GB:.2f}' for k, v in est['items'].items())
        print(f'  {engine:<5} x{gpus} {precision}: {est["total"] / GB:6.2f} GB per GPU '
              f'({parts}); longest sequence fitting: {est["longest_seq_that_fits"]}')
    if args.json_out:
        with open(args.json_out, 'w') as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == '__main__':
    main()
