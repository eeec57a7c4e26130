"""Write the miniature data tree that configs/tiny/mmgpt_tiny_fixture.py trains on.

    python tools/make_fixture_data.py [ROOT] [--per-dataset N] [--force]

Writes ``ROOT/data/`` (default: the current directory) with a few records of every public
format the paper's data config reads (LLaVA-Instruct, cc_sbu_align, A-OKVQA, COCO Caption,
OCR-VQA, Dolly, Alpaca-GPT4) and solid-colour images. Then, from ROOT::

    python tools/train.py configs/tiny/mmgpt_tiny_fixture.py --work-dir work_dirs/tiny

It refuses to write over existing files (your real data may live in ``data/``) unless
``--force`` is given.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys
import tempfile

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmgpt.testing import write_fixture_data  # noqa: E402
from mmgpt.utils.cli import add_debug_argument, run_cli  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?', default='.', help='where data/ goes (default: .)')
    parser.add_argument('--per-dataset', type=int, default=2, help='records per file')
    parser.add_argument('--force', action='store_true', help='overwrite existing files')
    add_debug_argument(parser)
    return parser.parse_args(argv)


def _files(folder: str) -> set:
    return {osp.relpath(osp.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs}


def main(argv=None) -> None:
    """Write the tree, first into a temporary folder to see which files it makes."""
    args = parse_args(argv)
    if args.per_dataset < 1:
        raise ValueError(f'--per-dataset must be at least 1, got {args.per_dataset}')
    with tempfile.TemporaryDirectory() as tmp:
        write_fixture_data(tmp, per_dataset=args.per_dataset)
        names = _files(tmp)
    clash = sorted(n for n in names if osp.exists(osp.join(args.root, n)))
    if clash and not args.force:
        raise FileExistsError(f'{len(clash)} file(s) exist already, e.g. '
                              f'{osp.join(args.root, clash[0])}; pass --force to overwrite '
                              'them, or another ROOT')
    sizes = write_fixture_data(args.root, per_dataset=args.per_dataset)
    print(f"wrote {len(names)} files under {osp.join(args.root, 'data')} "
          f"({sizes['vl']} vision-language, {sizes['lang']} language-only samples)")


if __name__ == '__main__':
    sys.exit(run_cli(main))
