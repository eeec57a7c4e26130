"""Before/after, side by side in one run: per-sample data cost and the chat stop check.

    python tools/analysis/benchmark_encoding.py [--samples 64] [--rounds 5]

1. cc_sbu_align-style samples/s through the data path (read the JPEG + render the
   template + tokenize): the previous algorithms (two full image copies; each template
   segment encoded alone) against today's (one decode, copies only when needed; one
   backend call over the whole rendered string), on the project's tiny byte-level BPE
   and on a LLaMA-style sentencepiece tokenizer trained here.
2. A 256-token cached decode of the tiny model with the stop check and streamer: the
   previous ones (decode every new token at every step) against the incremental ones;
   and the same 256 tokens replayed through the stop check alone (and repeated to 1024
   tokens, to show how each grows with the answer).

The old algorithms are kept here, and only here, to measure the before. Old and new run
alternately, ``--rounds`` times; medians are printed. Nothing is asserted.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from mmgpt.inference.chat import _StopOnStrings, _Streamer  # noqa: E402
from mmgpt.inference.stop_reference import FullDecodeStop as OldStop  # noqa: E402
from mmgpt.inference.stop_reference import (  # noqa: E402
    FullDecodeStreamer as OldStreamer,
)
from mmgpt.templates import (  # noqa: E402
    BOS,
    EOC,
    EOS,
    MEDIA,
    encode_segments,
    get_stop_words,
    render,
)
from mmgpt.tokenizer import EOC_TOKEN, MEDIA_TOKEN, build_tokenizer  # noqa: E402
from mmgpt.utils.image import read_rgb_image  # noqa: E402


# ------------------------------------------------------------ the old algorithms
def old_read_rgb_image(path):
    """Before: exif_transpose (always a copy), then convert (always a copy)."""
    with open(path, 'rb') as f:
        data = f.read()
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        if img.mode in ('RGBA', 'LA', 'PA') or (img.mode == 'P' and 'transparency' in img.info):
            rgba = img.convert('RGBA')
            background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, rgba).convert('RGB')
        return img.convert('RGB')


def old_encode_segments(segments, tokenizer):
    """Before: every text segment encoded on its own."""
    special = {BOS: tokenizer.bos_token_id, EOS: tokenizer.eos_token_id,
               MEDIA: tokenizer.convert_tokens_to_ids(MEDIA_TOKEN),
               EOC: tokenizer.convert_tokens_to_ids(EOC_TOKEN)}
    ids, labels = [], []
    for seg in segments:
        piece = [special[seg.special]] if seg.special else tokenizer.encode(
            seg.text, add_special_tokens=False, split_special_tokens=True)
        ids += piece
        labels += piece if seg.supervised else [-100] * len(piece)
    return ids, labels


# --------------------------------------------------------------------- fixtures
def make_images(directory, n, size):
    """cc_sbu_align-like JPEGs: smooth colour fields with texture, quality 90."""
    rng = np.random.default_rng(0)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paths = []
    for i in range(n):
        base = np.stack([(xx * (i + 1) / w * 255) % 256, (yy * 3 / h * 255) % 256,
                         ((xx + yy) / (w + h) * 255)], -1)
        img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        path = os.path.join(directory, f'{i:04d}.jpg')
        Image.fromarray(img).save(path, quality=90)
        paths.append(path)
    return paths


def make_conversations(paths, seed=0):
    """One turn each: a describe-the-image question and a ~60-word description."""
    words = ('the image shows a small red circle on the left and a large blue square at '
             'the top right with a green triangle below it on a white background').split()
    rng = np.random.default_rng(seed)
    convs = []
    for path in paths:
        desc = ' '.join(rng.choice(words, 60)).capitalize() + '.'
        convs.append(dict(image=path, turns=[dict(
            instruction='Describe this image in detail.', input='', response=desc)]))
    return convs


def median_time(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ------------------------------------------------------------------- benchmarks
def bench_pipeline(tokenizers, convs, rounds):
    rows = []
    for tok_name, tok in tokenizers.items():
        variants = {
            'old': lambda c, t=tok: (old_read_rgb_image(c['image']),
                                     old_encode_segments(render(c), t)),
            'new': lambda c, t=tok: (read_rgb_image(c['image']),
                                     encode_segments(render(c), t)),
            'old image only': lambda c: old_read_rgb_image(c['image']),
            'new image only': lambda c: read_rgb_image(c['image']),
            'old tokenize only': lambda c, t=tok: old_encode_segments(render(c), t),
            'new tokenize only': lambda c, t=tok: encode_segments(render(c), t),
        }
        for fn in variants.values():  # warm-up (the new encoder's backend copy)
            fn(convs[0])
        times = {k: [] for k in variants}
        for r in range(rounds):
            order = list(variants.items())
            for name, fn in (order if r % 2 == 0 else order[::-1]):  # alternate old/new
                t0 = time.perf_counter()
                for c in convs:
                    fn(c)
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            rows.append((tok_name, name, len(convs) / statistics.median(ts),
                         len(convs) / min(ts)))
    return rows


def bench_decode(rounds, new_tokens):
    from mmgpt.testing import build_tiny, open_gates, vl_prompt

    model = build_tiny()
    open_gates(model, 0.5)
    tok = model.tokenizer
    stops = get_stop_words('mmgpt')
    ids = vl_prompt(model)
    images = torch.randn(1, 1, 1, 3, 32, 32)
    args = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                use_cache=True)

    def run(stop_cls, streamer_cls):
        pieces = []
        streamer = streamer_cls(tok, pieces.append, stops, skip=1)
        with torch.no_grad():
            out = model.generate(ids, images=images, streamer=streamer,
                                 stopping_criteria=[stop_cls(tok, ids.shape[1], stops)],
                                 **args)
        return out, ''.join(pieces)

    def bare():
        with torch.no_grad():
            return model.generate(ids, images=images, **args)

    out_old, text_old = run(OldStop, OldStreamer)  # warm-up, and the same output
    out_new, text_new = run(_StopOnStrings, _Streamer)
    assert torch.equal(out_old, out_new) and text_old == text_new, 'old and new differ'
    new_ids = out_new[0].tolist()

    def replay(stop_cls, streamer_cls, repeat=1):
        answer = new_ids * repeat
        seq = torch.tensor([ids[0].tolist() + answer])
        crit = stop_cls(tok, ids.shape[1], stops)
        streamer = streamer_cls(tok, lambda s: None, stops, skip=0)
        for step in range(1, len(answer) + 1):
            streamer.put(torch.tensor([answer[step - 1]]))
            crit(seq[:, :ids.shape[1] + step], None)
        streamer.end()

    rows = []
    times = {k: [] for k in ('generate, no stop check', 'generate + old check',
                             'generate + new check', 'check alone, old',
                             'check alone, new', 'check alone x4 tokens, old',
                             'check alone x4 tokens, new')}
    for r in range(rounds):
        runs = (('generate, no stop check', bare),
                ('generate + old check', lambda: run(OldStop, OldStreamer)),
                ('generate + new check', lambda: run(_StopOnStrings, _Streamer)),
                ('check alone, old', lambda: replay(OldStop, OldStreamer)),
                ('check alone, new', lambda: replay(_StopOnStrings, _Streamer)),
                ('check alone x4 tokens, old', lambda: replay(OldStop, OldStreamer, 4)),
                ('check alone x4 tokens, new', lambda: replay(_StopOnStrings, _Streamer, 4)))
        for name, fn in (runs if r % 2 == 0 else runs[::-1]):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        rows.append((name, statistics.median(ts), min(ts)))
    return rows, len(new_ids)


def parse_args():
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=64, help='images / conversations')
    parser.add_argument('--image-size', type=int, nargs=2, default=(640, 480),
                        metavar=('W', 'H'), help='JPEG size (cc_sbu_align-like)')
    parser.add_argument('--rounds', type=int, default=5, help='timed rounds (median)')
    parser.add_argument('--new-tokens', type=int, default=256, help='decoded tokens')
    return parser.parse_args()


def main():
    """Run both benchmarks and print the figures."""
    args = parse_args()
    torch.set_num_threads(1)
    from mmgpt.testing import llama_style_tokenizer_dir

    with tempfile.TemporaryDirectory() as tmp:
        convs = make_conversations(make_images(tmp, args.samples, args.image_size))
        sp_dir = llama_style_tokenizer_dir(os.path.join(tmp, 'sp'))
        tokenizers = {
            'tiny_bpe': build_tokenizer(dict(type='tiny_bpe')),
            'llama_sp': build_tokenizer(dict(type='pretrained', path=sp_dir)),
        }
        rows = bench_pipeline(tokenizers, convs, args.rounds)
        n_old = len(old_encode_segments(render(convs[0]), tokenizers['llama_sp'])[0])
        n_new = len(encode_segments(render(convs[0]), tokenizers['llama_sp'])[0])
    print(f'cc_sbu_align-style samples ({args.samples} JPEGs {args.image_size[0]}x'
          f'{args.image_size[1]}, one turn, ~60-word answer), 1 thread, median of '
          f'{args.rounds} rounds:')
    print(f'  {"tokenizer":9s} {"variant":18s} {"median":>9s} {"best":>9s}  samples/s')
    for tok_name, name, rate, best in rows:
        print(f'  {tok_name:9s} {name:18s} {rate:9.1f} {best:9.1f}')
    print(f'  llama_sp ids of the first sample: old {n_old}, new {n_new}')
    rows, n = bench_decode(args.rounds, args.new_tokens)
    print(f'{n}-token cached decode of the tiny model (greedy, KV cache, 1 thread), '
          f'median of {args.rounds}:')
    print(f'  {"":26s} {"median":>9s} {"best":>9s}  ms')
    for name, sec, best in rows:
        print(f'  {name:26s} {sec * 1000:9.1f} {best * 1000:9.1f}')


if __name__ == '__main__':
    main()
