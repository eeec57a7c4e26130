"""Generate the synthetic "shapes world" data set of the embedded demo.

    python tools/make_shapes_world.py data/shapes_world [--num-train 2000] [--num-test 200]
        [--image-size 48] [--seed 0] [--eval-per-task 50]

Same arguments, same bytes in every file. ``meta.json`` is written last, so its presence
means a finished run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmgpt.demo.eval_tasks import format_table  # noqa: E402
from mmgpt.demo.shapes_world import generate_shapes_world  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    parser = argparse.ArgumentParser(description='Generate the shapes-world demo data.')
    parser.add_argument('out_dir', help='output folder (created if missing)')
    parser.add_argument('--num-train', type=int, default=2000, help='training images')
    parser.add_argument('--num-test', type=int, default=200, help='held-out images')
    parser.add_argument('--image-size', type=int, default=48, help='image side, >= 32')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--eval-per-task', type=int, default=50,
                        help='evaluation items per task (at most)')
    parser.add_argument('--num-lang', type=int, default=None,
                        help='samples in dolly.jsonl and in alpaca.json '
                             '(default: --num-train)')
    parser.add_argument('--word-fraction', type=float, default=0.5,
                        help='share of images that show a word instead of shapes')
    parser.add_argument('--jitter', type=int, default=2,
                        help='largest shift of an object or word from its centred position '
                             '(pixels)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    return parser.parse_args(argv)


def files_table(files: dict) -> str:
    """Render the ``files`` part of ``meta.json`` as a table.

    Args:
        files (dict): ``{path: {'records': int, 'bytes': int}}``.

    Returns:
        str: One line per file.
    """
    width = max(len(name) for name in files)
    lines = [f'{"file":<{width}} {"records":>8} {"KiB":>9}']
    lines += [f'{name:<{width}} {info["records"]:>8} {info["bytes"] / 1024:>9.1f}'
              for name, info in files.items()]
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate the data set and print what was written.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv[1:]``.

    Returns:
        int: The exit status.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        meta = generate_shapes_world(
            args.out_dir, num_train=args.num_train, num_test=args.num_test,
            image_size=args.image_size, seed=args.seed, eval_per_task=args.eval_per_task,
            num_lang=args.num_lang, word_fraction=args.word_fraction, jitter=args.jitter,
            progress=not args.no_progress)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    print(f'\nwrote {args.out_dir} in {time.perf_counter() - start:.1f} s '
          f'(seed {args.seed}, {args.image_size}x{args.image_size} images)')
    print(files_table(meta['files']))
    print('\nevaluation items (chance = 1 / number of choices; caption: all attributes)')
    print(format_table({'tasks': meta['tasks']}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
