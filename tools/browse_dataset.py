"""Show training samples exactly as the model sees them.

    python tools/browse_dataset.py CONFIG [--num N] [--json] [--split train]
        [--index-order] [--cfg-options key=value ...]

Builds ``cfg.<split>_dataloader.dataset`` (default scope ``mmgpt``), runs its pipeline
and decodes the token ids of the first N samples, in the order of the configured sampler
(``--index-order``: indices 0..N-1). Supervised tokens (the ones the loss counts) are
shown in green on a terminal and between ``[[`` and ``]]`` otherwise. ``--json`` prints
one JSON object per sample and line with ``index``, ``dataset``, ``modality``, ``text``
(the decoded input), ``supervised`` (the decoded supervised spans, in order),
``num_tokens``, ``num_supervised_tokens``, ``num_image_tokens``, ``num_images``,
``image_shape``, ``id`` (the record's id) and ``image`` (its image path, or null). When a
sample could not be loaded (a broken image, nothing supervised) the dataset shows a
random other one instead: its line then has that sample's ``index`` and ``"replaces"``:
the index asked for. With ``--json`` standard output holds only the JSON lines; logs go
to stderr. Images skipped and samples dropped on the way are counted on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmgpt.datasets import bind_model_config  # noqa: E402
from mmgpt.registry import DATA_SAMPLERS, DATASETS  # noqa: E402
from mmgpt.templates import IGNORE_INDEX  # noqa: E402
from mmgpt.tokenizer import MEDIA_TOKEN  # noqa: E402
from mmgpt.utils.cli import (  # noqa: E402
    add_cfg_options_argument,
    add_debug_argument,
    load_config,
    run_cli,
)
from mmgpt.utils.threads import set_torch_threads  # noqa: E402

GREEN, RESET = '\x1b[32m', '\x1b[0m'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description='Show samples as the model sees them')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--num', type=int, default=5, help='number of samples to show')
    parser.add_argument('--json', action='store_true', help='one JSON object per line')
    parser.add_argument('--split', default='train', help='which <split>_dataloader')
    parser.add_argument('--index-order', action='store_true',
                        help='show indices 0..N-1 instead of the sampler order')
    add_cfg_options_argument(parser)
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: the usable cores, or MMGPT_NUM_THREADS)')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def build_dataset(cfg: Config, split: str):
    """Build ``cfg.<split>_dataloader.dataset`` in the config's default scope."""
    init_default_scope(cfg.get('default_scope', 'mmgpt'))
    key = f'{split}_dataloader'
    if key not in cfg:
        raise KeyError(f'the config has no {key} (--split {split})')
    dataset = cfg[key]['dataset']
    if cfg.get('model') is not None:
        # the pipeline's tokenizer, template and image preprocessing are the model's
        dataset = bind_model_config(dataset, cfg.model)
    return DATASETS.build(dataset)


def sample_order(cfg: Config, dataset, split: str, num: int, index_order: bool) -> list:
    """The first ``num`` indices, in the configured sampler's order when it has one."""
    sampler_cfg = cfg[f'{split}_dataloader'].get('sampler')
    if index_order or not sampler_cfg:
        return list(range(min(num, len(dataset))))
    seed = (cfg.get('randomness') or {}).get('seed') or 0
    sampler = DATA_SAMPLERS.build(sampler_cfg, default_args=dict(dataset=dataset, seed=seed))
    return list(itertools.islice(iter(sampler), num))


def find_tokenizer(dataset, index: int):
    """The tokenizer of the pipeline that produced sample ``index``."""
    if hasattr(dataset, 'locate'):
        dataset = dataset.locate(index)[0]
    for transform in getattr(getattr(dataset, 'pipeline', None), 'transforms', []):
        if getattr(transform, 'tokenizer', None) is not None:
            return transform.tokenizer
    raise ValueError(f'no TokenizeConversation in the pipeline of {type(dataset).__name__}')


def runs(ids: list, labels: list) -> list:
    """Split ids into ``(ids, supervised)`` runs of equal supervision."""
    out = []
    for token, label in zip(ids, labels):
        supervised = label != IGNORE_INDEX
        if out and out[-1][1] == supervised:
            out[-1][0].append(token)
        else:
            out.append(([token], supervised))
    return out


def describe(sample: dict, tokenizer, index: int) -> tuple:
    """The JSON record of a sample and its decoded ``(text, supervised)`` runs."""
    ids, labels = sample['input_ids'].tolist(), sample['labels'].tolist()
    decoded = [(tokenizer.decode(r, skip_special_tokens=False), sup)
               for r, sup in runs(ids, labels)]
    image = sample.get('image')
    record = dict(
        index=index, dataset=sample.get('dataset'), modality=sample.get('modality'),
        text=tokenizer.decode(ids, skip_special_tokens=False),
        supervised=[text for text, sup in decoded if sup],
        num_tokens=len(ids), num_supervised_tokens=sum(x != IGNORE_INDEX for x in labels),
        num_image_tokens=ids.count(tokenizer.convert_tokens_to_ids(MEDIA_TOKEN)),
        num_images=0 if image is None else 1,
        image_shape=None if image is None else list(image.shape))
    return record, decoded


def show(record: dict, decoded: list, color: bool) -> str:
    """Human-readable view: a header line, then the text with supervised spans marked."""
    shape = f" {tuple(record['image_shape'])}" if record['image_shape'] else ''
    head = (f"=== #{record['index']} {record['dataset']} ({record['modality']}): "
            f"{record['num_tokens']} tokens, {record['num_supervised_tokens']} supervised, "
            f"{record['num_images']} image(s){shape}, "
            f"{record['num_image_tokens']} image token(s) ===")
    open_, close = (GREEN, RESET) if color else ('[[', ']]')
    body = ''.join(f'{open_}{text}{close}' if sup else text for text, sup in decoded)
    return f'{head}\n{body}\n'


def fetch(dataset, index: int) -> tuple:
    """``(sample, index shown, origin)``: origin has ``id`` and ``image`` of the record and
    ``replaces`` when the dataset returned another sample than ``index``."""
    sample = dataset[index]
    shown = getattr(dataset, 'last_index', None)
    shown = index if shown is None else shown
    inner, local = dataset.locate(shown) if hasattr(dataset, 'locate') else (dataset, shown)
    info = inner.get_data_info(local) if hasattr(inner, 'get_data_info') else {}
    origin = dict(id=info.get('id'), image=info.get('image'))
    if shown != index:
        origin['replaces'] = index
    return sample, shown, origin


def _logs_to_stderr(out) -> None:
    """Point every logging stream handler that writes to stdout at stderr (MMEngine's too)."""
    from mmengine.logging import MMLogger

    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    loggers += list(MMLogger._instance_dict.values())
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and \
                    getattr(handler, 'stream', None) in (out, sys.__stdout__):
                handler.setStream(sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    out = sys.stdout
    if args.json:  # stdout holds only the JSON lines: everything else goes to stderr
        _logs_to_stderr(out)
        with contextlib.redirect_stdout(sys.stderr):
            browse(args, out)
    else:
        browse(args, out)


def browse(args: argparse.Namespace, out) -> None:
    """Build the dataset and write the samples to ``out``."""
    from mmgpt.datasets.transforms import data_stats

    cfg = load_config(args.config, args.cfg_options)
    dataset = build_dataset(cfg, args.split)
    if args.json:
        _logs_to_stderr(out)  # loggers made while building
    color = out.isatty()
    for index in sample_order(cfg, dataset, args.split, args.num, args.index_order):
        sample, shown, origin = fetch(dataset, index)
        record, decoded = describe(sample, find_tokenizer(dataset, shown), shown)
        record.update(origin)
        if args.json:
            print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
        else:
            note = f" (replaces #{origin['replaces']})" if 'replaces' in origin else ''
            print(show(record, decoded, color).replace(' ===\n', f'{note} ===\n', 1),
                  file=out, flush=True)
    stats = data_stats()
    if stats:
        print(f'data pipeline events: {json.dumps(stats)}', file=sys.stderr)


if __name__ == '__main__':
    sys.exit(run_cli(main))
