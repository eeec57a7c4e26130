"""A web demo of a MultiModal-GPT checkpoint (gradio), safe by default.

    python tools/webui.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port 7860] [--share]

Listens on this machine only unless --host says otherwise; a public gradio share link
only with --share. docs/serving.md has the details and the limits.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')  # no calls home

from mmgpt.serving import ImageLimits  # noqa: E402
from mmgpt.utils.cli import (  # noqa: E402
    add_checkpoint_arguments,
    add_listen_arguments,
    load_config,
    run_cli,
)
from mmgpt.utils.threads import set_torch_threads  # noqa: E402


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description='Web demo of a MultiModal-GPT checkpoint')
    add_checkpoint_arguments(parser)
    add_listen_arguments(parser, 7860, 'the page')
    parser.add_argument('--share', action='store_true',
                        help='also open a public gradio.live link (off by default)')
    ImageLimits.add_arguments(parser, 'conversation')
    parser.add_argument('--max-queue', type=int, default=64,
                        help='visitors waiting for the model at most (default: 64)')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    set_torch_threads()
    from mmgpt.inference import ChatEngine
    from mmgpt.serving.webui import build_webui, launch_webui

    limits = ImageLimits.from_args(args)
    cfg = load_config(args.config, args.cfg_options)
    print('loading model ...', file=sys.stderr, flush=True)
    engine = ChatEngine.from_config(cfg, args.checkpoint, device=args.device)
    demo = build_webui(engine, limits, max_queue=args.max_queue)
    where = 'this machine only' if args.host in ('127.0.0.1', 'localhost') else 'the network'
    share = 'and a public share link' if args.share else 'no public share link (--share)'
    print(f'web demo on http://{args.host}:{args.port} ({where}; {share})', file=sys.stderr,
          flush=True)
    launch_webui(demo, args.host, args.port, args.share, limits, quiet=not args.share)


if __name__ == '__main__':
    sys.exit(run_cli(main))
