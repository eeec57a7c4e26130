"""Evaluate a MultiModal-GPT checkpoint on a benchmark with MMEngine's ``Runner.test()``.

    python tools/test.py CONFIG CHECKPOINT [--out preds.jsonl] [--metrics-out m.json]
        [--work-dir DIR] [--resume] [--cfg-options key=value ...] [--launcher ...]

CONFIG is an evaluation config (``configs/eval/``: the training config's model, a test
dataset and its metrics); CHECKPOINT the trained weights (a training ``.pth`` or exported
``.safetensors``), or ``none`` for the configured base model. Predictions are written
as they come (one JSON line per question, with the exact prompt), the metrics go to a
JSON file and are printed as a table. ``--resume`` continues a killed run: saved
predictions are reused, only the missing ones are generated. Several GPUs:
``bash tools/dist_test.sh CONFIG CHECKPOINT NUM_GPUS [args]``.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dist import get_dist_info  # noqa: E402

from mmgpt.engine import MMGPTRunner  # noqa: E402
from mmgpt.utils import atomic_write_bytes  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.
    """
    parser = argparse.ArgumentParser(description='Evaluate a MultiModal-GPT checkpoint')
    parser.add_argument('config', help='evaluation config (configs/eval/...)')
    parser.add_argument('checkpoint', help="trained weights (.pth / .safetensors), or 'none'")
    parser.add_argument('--out', help='predictions file (JSON lines); default '
                        '<work_dir>/predictions.jsonl')
    parser.add_argument('--metrics-out', help='metrics JSON; default <work_dir>/metrics.json')
    parser.add_argument('--work-dir', help='where logs and outputs go; default '
                        'work_dirs/eval/<config name>')
    parser.add_argument('--resume', action='store_true',
                        help='reuse the predictions already saved in --out (a killed run '
                        'continues where it stopped)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_dataloader.dataset.sample=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Put the command line into the config: work dir, checkpoint, the test loop.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): The parsed arguments.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs/eval', osp.splitext(osp.basename(args.config))[0])
    if args.checkpoint.lower() == 'none':
        cfg.load_from = None
    elif not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint {args.checkpoint} does not exist '
                         "(give 'none' to evaluate the configured base model)")
    else:
        cfg.load_from = args.checkpoint
    cfg.resume = False  # training resume; --resume here reuses predictions
    for key in ('test_dataloader', 'test_evaluator'):
        if cfg.get(key) is None:
            raise SystemExit(f'error: {args.config} has no {key}; use a config from '
                             'configs/eval/')
    test_cfg = dict(cfg.get('test_cfg') or {})
    test_cfg.update(type='PredictionTestLoop', resume=args.resume,
                    progress=not args.no_progress,
                    predictions_file=args.out or osp.join(cfg.work_dir, 'predictions.jsonl'))
    cfg.test_cfg = test_cfg
    return cfg


def format_metrics(metrics: dict) -> str:
    """The metrics as a two-column table (numbers with 2 decimals, counts as integers).

    Args:
        metrics (dict): ``Runner.test()``'s result.
    """
    width = max([len('metric')] + [len(k) for k in metrics])
    lines = [f'{"metric":<{width}}  value', f'{"-" * width}  {"-" * 8}']
    for key, value in metrics.items():
        shown = f'{value:.2f}' if isinstance(value, float) else str(value)
        lines.append(f'{key:<{width}}  {shown:>8}')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Build the runner, test, write and print the metrics.

    Returns:
        dict: The metrics.
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg = merge_args(cfg, args)
    runner = MMGPTRunner.from_cfg(cfg)
    metrics = runner.test()
    if get_dist_info()[0] == 0:
        out = args.metrics_out or osp.join(cfg.work_dir, 'metrics.json')
        report = dict(config=args.config, checkpoint=args.checkpoint,
                      predictions=cfg.test_cfg['predictions_file'], metrics=metrics)
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        atomic_write_bytes(json.dumps(report, indent=1).encode(), out)
        print(format_metrics(metrics))
        print(f'predictions: {cfg.test_cfg["predictions_file"]}\nmetrics: {out}', flush=True)
    return metrics


if __name__ == '__main__':
    main()
