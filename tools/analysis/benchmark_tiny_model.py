"""Time the tiny model: build, one training step (VL + language-only), generate 16 tokens.

    python tools/analysis/benchmark_tiny_model.py [--repeat 5] [--config CONFIG]

Prints the figures; nothing is asserted (speed targets live here, not in unit tests).
"""
import argparse
import statistics
import time

import torch


def parse_args():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=None, help='model config (default: tiny)')
    parser.add_argument('--repeat', type=int, default=5, help='timed repetitions')
    parser.add_argument('--seq-len', type=int, default=128, help='tokens per sample')
    return parser.parse_args()


def main():
    """Run the benchmark."""
    args = parse_args()
    t0 = time.perf_counter()
    from mmengine import Config
    from mmengine.registry import init_default_scope

    from mmgpt.registry import MODELS
    from mmgpt.testing import TINY_MODEL_CONFIG, open_gates
    t_import = time.perf_counter() - t0

    init_default_scope('mmgpt')
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = MODELS.build(Config.fromfile(args.config or TINY_MODEL_CONFIG).model)
    t_build = time.perf_counter() - t0
    open_gates(model, 0.5)
    tok = model.tokenizer
    size = model.flamingo.vision_encoder.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    ids = torch.randint(0, len(tok) - 3, (1, args.seq_len))
    ids[0, 0], ids[0, 4] = tok.bos_token_id, model.media_token_id
    batch = dict(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
    images = torch.randn(1, 1, 1, 3, size, size)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-4)

    def step():
        model.train()
        losses = model(vl=dict(batch, images=images), lang=batch, mode='loss')
        sum(losses.values()).backward()
        optim.step()
        optim.zero_grad()

    def generate():
        model.eval()
        model.generate(ids[:, :16], images=images, max_new_tokens=16, min_new_tokens=16)

    rows = []
    for name, fn in (('train step (1 VL + 1 lang sample)', step),
                     ('generate 16 tokens (KV cache)', generate)):
        fn()  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(times)))
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'sequence {args.seq_len} tokens')
    print(f'{"import mmgpt stack":40s} {t_import * 1000:8.0f} ms')
    print(f'{"build tiny model (with lazy imports)":40s} {t_build * 1000:8.0f} ms')
    for name, sec in rows:
        print(f'{name:40s} {sec * 1000:8.0f} ms (median of {args.repeat})')


if __name__ == '__main__':
    main()
