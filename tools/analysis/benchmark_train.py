"""Training throughput, FLOPs utilisation and memory of a config, on synthetic batches.

    python tools/analysis/benchmark_train.py CONFIG [--steps 10] [--warmup 2]
        [--random-init] [--seq-len L] [--device cuda|cpu] [--amp]
        [--peak-tflops T] [--json-out FILE] [--cfg-options k=v ...]
    torchrun --nproc_per_node N tools/analysis/benchmark_train.py CONFIG ... --launcher pytorch

Builds the config's model, wraps it the way training does (DDP / one device for a plain
config, DeepSpeed ZeRO or FSDP for a config with a ``strategy``, through the same MMEngine
strategies), and runs ``--warmup`` + ``--steps`` training iterations (forward, backward,
optimizer wrapper with the config's accumulation) on synthetic batches of the configured
shape: per rank ``vl_per_iter`` vision-language and ``lang_per_iter`` language-only
sequences of ``max_length`` tokens (the pipeline's ``TokenizeConversation``), one image of
the vision tower's size per VL sample. Nothing is downloaded: ``--random-init`` replaces
every pretrained path with random weights of the same shapes (the LLaMA from its
``config.json`` or, for a path naming LLaMA-7B, LLaMA-7B's published shapes; CLIP from
open_clip's built-in config; no OpenFlamingo checkpoint).

Prints and (``--json-out``) writes: tokens/s and samples/s (all ranks), seconds per
iteration, model FLOPs per iteration and MFU, peak memory (CUDA: ``max_memory_allocated``;
CPU: peak RSS), and a measured breakdown (weights, trainable, saved activations of one
iteration) for tools/analysis/memory_estimate.py to be checked against.

FLOPs (model FLOPs of one iteration, recomputation not counted; see
:func:`training_flops`): for each Linear of the language model, P params applied to T
tokens cost 2PT forward, 2PT for the gradient of its input and, if it trains, 2PT for
its weight gradient: 6PT for a trainable (LoRA) Linear and 4PT for a frozen one (the
gradient must flow through frozen layers to the LoRA weights below them). Self-attention
adds 12*T^2*d per layer (QK^T and AV, forward + 2x backward, causal mask not discounted),
cross-attention 12*T*M*d_inner per block for M image latents; the frozen vision tower and
perceiver run forward only (2*P per token, plus their attention). Text tokens of
language-only samples skip the cross-attention blocks.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import resource
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from torch import nn  # noqa: E402

#: Dense bf16 tensor-core peaks (TFLOP/s) by device name fragment, from the vendors' sheets.
PEAK_BF16_TFLOPS = {'H200': 989.0, 'H100': 989.0, 'A100': 312.0, 'A800': 312.0,
                    'L40S': 362.0, 'L4': 121.0, 'A10': 125.0, 'RTX 4090': 165.0,
                    'RTX 3090': 71.0, 'V100': 125.0}
#: LLaMA-7B's published shapes (its config.json), for --random-init without the files.
LLAMA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                max_position_embeddings=2048, rms_norm_eps=1e-6)


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--steps', type=int, default=10, help='timed iterations')
    parser.add_argument('--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument('--seq-len', type=int, default=None,
                        help="tokens per sequence (default: the pipeline's max_length)")
    parser.add_argument('--random-init', action='store_true',
                        help='random weights of the configured shapes instead of files')
    parser.add_argument('--device', default=None, help='cuda or cpu (default: cuda if any)')
    parser.add_argument('--amp', action='store_true',
                        help='DDP/one device: bf16 frozen weights + bf16 autocast, as '
                        'tools/train.py --amp (configs with a strategy set their own)')
    parser.add_argument('--peak-tflops', type=float, default=None,
                        help='device peak for MFU (default: a table of GPUs; none on CPU)')
    parser.add_argument('--json-out', default=None, help='also write the results here')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the model
def random_init_model_cfg(model_cfg: dict) -> tuple[dict, int | None]:
    """Replace pretrained weights in a model config with random ones of the same shapes.

    Args:
        model_cfg (dict): The ``model`` config.

    Returns:
        tuple[dict, int | None]: The new config, and the LM vocabulary to resize to after
        building (the real tokenizer's size: the stand-in tokenizer is smaller), or None.
    """
    cfg = dict(model_cfg, pretrained=None)
    cfg['vision_encoder'] = dict(cfg['vision_encoder'], pretrained=None)
    lang, vocab = dict(cfg['lang_model']), None
    if lang.get('path') is not None:
        path = lang.pop('path')
        config_json = osp.join(path, 'config.json')
        if osp.isfile(config_json):
            with open(config_json) as f:
                sizes = {k: v for k, v in json.load(f).items()
                         if not k.startswith('_') and k not in ('architectures', 'torch_dtype')}
        elif 'llama-7b' in path.lower():
            sizes = dict(LLAMA_7B, model_type='llama')
        else:
            raise SystemExit(f'--random-init: no {config_json} to read the LM shapes from')
        sizes.setdefault('model_type', 'llama')
        lang['config'] = sizes
        vocab = int(sizes['vocab_size']) + 3  # + <|endofchunk|>, <image>, <PAD>
    cfg['lang_model'] = lang
    if cfg['tokenizer'].get('type') == 'pretrained':
        # a stand-in with the same special tokens; the LM is resized to `vocab` after
        cfg['tokenizer'] = dict(type='tiny_bpe', vocab_size=512)
    return cfg, vocab


def build_model(cfg: Config, args) -> nn.Module:
    """Build the config's model (random weights with ``--random-init``) on the device."""
    from mmgpt.registry import MODELS

    model_cfg, vocab = cfg.model.to_dict(), None
    if args.random_init:
        model_cfg, vocab = random_init_model_cfg(model_cfg)
    torch.manual_seed(0)
    with torch.device(args.device):  # weights created on the device: fast at 9B
        model = MODELS.build(model_cfg)
        if vocab is not None:
            model.lang_encoder.resize_token_embeddings(vocab)
    return model


# ---------------------------------------------------------------- batches
def batch_shape(cfg: Config, seq_len: int | None) -> dict:
    """Samples per rank and iteration, tokens per sequence, image size."""
    loader = cfg.train_dataloader
    sampler = loader.get('sampler', {})
    vl, lang = sampler.get('vl_per_iter'), sampler.get('lang_per_iter')
    if vl is None:
        vl, lang = loader.batch_size, 0
    max_length = None
    for step in loader.dataset.get('pipeline') or []:
        if step.get('type') == 'TokenizeConversation':
            max_length = step.get('max_length')
    length = seq_len or max_length
    if length is None:
        raise SystemExit('no TokenizeConversation max_length in the config: pass --seq-len')
    return dict(vl=int(vl), lang=int(lang), seq_len=int(length))


def synthetic_batch(model, shape: dict, device: str) -> dict:
    """A batch as ``mmgpt_collate`` makes it: ``dict(vl=..., lang=...)``, every token
    supervised except the first 8 (BOS, ``<image>``...), no padding."""
    gen = torch.Generator().manual_seed(0)
    vocab = len(model.tokenizer) - 3  # ordinary tokens only
    size = model.flamingo.vision_encoder.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size

    def sequences(n: int, image: bool) -> dict | None:
        if n == 0:
            return None
        ids = torch.randint(0, vocab, (n, shape['seq_len']), generator=gen)
        ids[:, 0] = model.tokenizer.bos_token_id
        if image:
            ids[:, 1] = model.media_token_id
        labels = ids.clone()
        labels[:, :8] = -100
        out = dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels)
        if image:
            out['images'] = torch.randn(n, 1, 1, 3, size, size, generator=gen)
        return {k: v.to(device) for k, v in out.items()}

    return dict(vl=sequences(shape['vl'], True), lang=sequences(shape['lang'], False))


# ---------------------------------------------------------------- FLOPs
def _latents_per_image(model) -> int:
    return int(model.flamingo.perceiver.latents.shape[0])


def _vision_tokens(model) -> int:
    visual = model.flamingo.vision_encoder
    grid = visual.grid_size
    return int(grid[0] * grid[1]) + 1  # patches + class token


def training_flops(model, shape: dict) -> dict:
    """Model FLOPs of one training iteration on one rank (see the module docstring).

    Args:
        model: The unwrapped ``MultiModalGPT``.
        shape (dict): :func:`batch_shape`.

    Returns:
        dict: ``total`` and its parts (``lm_linear``, ``attention``, ``vision``).
    """
    t_vl, t_lang = shape['vl'] * shape['seq_len'], shape['lang'] * shape['seq_len']
    latents = shape['vl'] * _latents_per_image(model)
    lm_linear = 0
    for name, module in model.lang_encoder.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        params = module.weight.numel()
        factor = 6 if module.weight.requires_grad else 4
        if 'gated_cross_attn_layer' in name:
            tokens = latents if '.to_kv' in name else t_vl
        else:
            tokens = t_vl + t_lang
        lm_linear += factor * params * tokens
    lm_cfg = model.lang_encoder.config
    d, layers = lm_cfg.hidden_size, lm_cfg.num_hidden_layers
    seq = shape['seq_len']
    attention = 12 * layers * d * seq * seq * (shape['vl'] + shape['lang'])
    blocks = [m for m in model.lang_encoder.modules()
              if type(m).__name__ == 'GatedCrossAttentionBlock']
    for block in blocks:
        inner = block.attn.to_q.weight.shape[0] if hasattr(block.attn.to_q, 'weight') else \
            block.attn.to_q.base_layer.weight.shape[0]
        attention += 12 * t_vl * _latents_per_image(model) * inner
    vis_tokens = _vision_tokens(model)
    visual = model.flamingo.vision_encoder
    vis_params = sum(p.numel() for p in visual.parameters())
    width = visual.transformer.width
    vis_layers = len(visual.transformer.resblocks)
    vision = shape['vl'] * (2 * vis_params * vis_tokens + 4 * vis_layers * vis_tokens ** 2 * width)
    perceiver = sum(p.numel() for p in model.flamingo.perceiver.parameters())
    vision += shape['vl'] * 2 * perceiver * (vis_tokens + _latents_per_image(model))
    return dict(total=lm_linear + attention + vision, lm_linear=lm_linear,
                attention=attention, vision=vision)


# ---------------------------------------------------------------- memory
class SavedActivations:
    """Bytes autograd keeps for the backward pass (unique storages, parameters excluded),
    measured with ``torch.autograd.graph.saved_tensors_hooks`` during one forward."""

    def __init__(self, model: nn.Module) -> None:
        self.param_ptrs = {p.untyped_storage().data_ptr() for p in model.parameters()}
        self.storages: dict[int, int] = {}

    def _pack(self, tensor):
        storage = tensor.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.param_ptrs:
            self.storages[ptr] = storage.nbytes()
        return tensor

    def __enter__(self):
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)

    @property
    def nbytes(self) -> int:
        """Total bytes of the saved storages."""
        return sum(self.storages.values())


def peak_memory(device: str) -> dict:
    """Peak memory so far: CUDA allocator figures, or this process's peak RSS."""
    if device.startswith('cuda'):
        return dict(kind='cuda_max_memory_allocated',
                    peak_bytes=torch.cuda.max_memory_allocated(),
                    peak_reserved_bytes=torch.cuda.max_memory_reserved())
    return dict(kind='cpu_peak_rss', peak_bytes=resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss * 1024)


# ---------------------------------------------------------------- engine
def prepare(cfg: Config, model: nn.Module, args, shape: dict):
    """Wrap the model and build its optimizer wrapper as training would.

    Returns:
        tuple: (wrapped model with ``train_step``, optimizer wrapper, strategy name).
    """
    from mmengine.registry import init_default_scope

    from mmgpt.engine import cast_frozen_to
    from mmgpt.registry import STRATEGIES

    init_default_scope(cfg.get('default_scope', 'mmgpt'))
    optim_cfg = cfg.optim_wrapper.to_dict()
    strategy_cfg = cfg.get('strategy')
    if strategy_cfg is None:
        if args.amp:
            cast_frozen_to(model, 'bfloat16')
            optim_cfg.update(type='AmpOptimWrapper', dtype='bfloat16')
        name = 'DDPStrategy' if args.launcher != 'none' else 'SingleDeviceStrategy'
        strategy_cfg = dict(type=name)
        if name == 'DDPStrategy':
            strategy_cfg['model_wrapper'] = dict(
                type='MMDistributedDataParallel', broadcast_buffers=False,
                find_unused_parameters=True,
                device_ids=None if args.device == 'cpu' else [int(os.environ['LOCAL_RANK'])])
    else:
        strategy_cfg = strategy_cfg.to_dict()
    env = cfg.get('env_cfg', {}).to_dict() if cfg.get('env_cfg') else {}
    if args.device == 'cpu':
        env['dist_cfg'] = dict(backend='gloo')
    strategy_cfg.update(work_dir=tempfile.mkdtemp(prefix='mmgpt_bench_'),
                        env_kwargs=dict(launcher=args.launcher, randomness=dict(seed=0),
                                        **env))
    if args.device == 'cpu' and args.launcher != 'none':
        from mmgpt.engine import init_cpu_dist
        init_cpu_dist(args.launcher)
    strategy = STRATEGIES.build(strategy_cfg)
    model, optim_wrapper = strategy.prepare(
        model, optim_wrapper=optim_cfg, dispatch_kwargs=dict(
            train_micro_batch_size_per_gpu=shape['vl'] + shape['lang'],
            epoch_length=args.warmup + args.steps, max_epochs=1,
            max_iters=args.warmup + args.steps))[:2]
    return model, optim_wrapper, type(strategy).__name__


def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def main(argv=None) -> dict:
    """Run the benchmark; returns the results dict."""
    args = parse_args(argv)
    args.device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if args.device.startswith('cuda'):
        torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', 0)))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    shape = batch_shape(cfg, args.seq_len)
    rss_before = peak_memory('cpu')['peak_bytes']
    t0 = time.perf_counter()
    model = build_model(cfg, args)
    build_s = time.perf_counter() - t0
    bare = model
    flops = training_flops(bare, shape)
    wrapped, optim_wrapper, strategy = prepare(cfg, model, args, shape)
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    batch = synthetic_batch(bare, shape, args.device)
    params = list(bare.parameters())
    weights = dict(
        frozen_bytes=sum(p.numel() * p.element_size() for p in params if not p.requires_grad),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        frozen_params=sum(p.numel() for p in params if not p.requires_grad))
    wrapped.train()
    saved = SavedActivations(bare)
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            _sync(args.device)
            start = time.perf_counter()
        if i == 0:
            with saved:
                log_vars = wrapped.train_step(batch, optim_wrapper=optim_wrapper)
        else:
            log_vars = wrapped.train_step(batch, optim_wrapper=optim_wrapper)
    _sync(args.device)
    elapsed = time.perf_counter() - start
    step_s = elapsed / max(args.steps, 1)
    tokens = (shape['vl'] + shape['lang']) * shape['seq_len']
    peak = args.peak_tflops
    if peak is None and args.device.startswith('cuda'):
        name = torch.cuda.get_device_name()
        peak = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    achieved = flops['total'] / step_s
    results = dict(
        config=args.config, strategy=strategy, device=args.device,
        device_name=torch.cuda.get_device_name() if args.device.startswith('cuda') else 'cpu',
        world_size=world, steps=args.steps, warmup=args.warmup,
        random_init=args.random_init, amp=args.amp,
        activation_checkpointing=bool(cfg.model.get('gradient_checkpointing', False)),
        accumulative_counts=cfg.optim_wrapper.get('accumulative_counts') or (
            cfg.get('strategy') or {}).get('gradient_accumulation_steps', 1),
        batch_per_rank=shape, build_seconds=round(build_s, 2),
        seconds_per_iter=step_s,
        tokens_per_sec=tokens * world / step_s,
        samples_per_sec=(shape['vl'] + shape['lang']) * world / step_s,
        model_flops_per_iter_per_rank=flops,
        achieved_tflops_per_rank=achieved / 1e12,
        peak_tflops=peak, mfu=(achieved / (peak * 1e12)) if peak else None,
        flops_formula=('Linear: 6*P*T trainable, 4*P*T frozen (fwd + input grad); '
                       'self-attn 12*T^2*d per layer; cross-attn 12*T*M*d_inner per block; '
                       'vision tower + perceiver forward only (2*P per token + attention); '
                       'recomputation not counted'),
        memory=dict(peak_memory(args.device), **weights,
                    saved_activation_bytes_first_iter=saved.nbytes,
                    rss_before_build_bytes=rss_before),
        last_loss={k: float(v.detach()) for k, v in log_vars.items()},
    )
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank == 0:
        text = json.dumps(results, indent=2)
        print(text)
        if args.json_out:
            os.makedirs(osp.dirname(osp.abspath(args.json_out)), exist_ok=True)
            with open(args.json_out, 'w') as f:
                f.write(text + '\n')
    return results


if __name__ == '__main__':
    main()
