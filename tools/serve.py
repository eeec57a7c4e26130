"""Serve a MultiModal-GPT checkpoint over an OpenAI-compatible HTTP API.

    python tools/serve.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port 8000]
        [--model-name NAME] [--api-key KEY | env MMGPT_API_KEY] [--image-dir DIR]
        [--cfg-options KEY=VALUE ...]

``POST /v1/chat/completions`` (streaming or not) and ``GET /v1/models``; images as
``image_url`` parts holding data URLs (or, with --image-dir, local files under DIR).
docs/serving.md has the details, the limits and the error list.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mmgpt.serving import ImageLimits, ServingSettings  # noqa: E402
from mmgpt.utils.cli import (  # noqa: E402
    add_checkpoint_arguments,
    add_listen_arguments,
    load_config,
    run_cli,
)
from mmgpt.utils.threads import set_torch_threads  # noqa: E402


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(description='OpenAI-compatible API for a checkpoint')
    add_checkpoint_arguments(parser)
    add_listen_arguments(parser, 8000, 'the server')
    parser.add_argument('--model-name', help='the model id clients send (default: the '
                        'config file name)')
    parser.add_argument('--api-key', default=os.environ.get('MMGPT_API_KEY'),
                        help='require "Authorization: Bearer KEY" (default: $MMGPT_API_KEY; '
                        'none: no authentication)')
    parser.add_argument('--image-dir', help='allow image_url file paths under this directory '
                        '(default: local files refused)')
    parser.add_argument('--system-messages', choices=['input', 'ignore', 'reject'],
                        default='input', help='what system messages become (default: the '
                        "turn's ### Input: section)")
    parser.add_argument('--max-tokens', type=int, default=128,
                        help='max_tokens when a request gives none (default: 128)')
    ImageLimits.add_arguments(parser, 'request')
    parser.add_argument('--max-body-mb', type=float, default=32.0,
                        help='largest request body (default: 32 MB)')
    parser.add_argument('--max-pending', type=int, default=32,
                        help='requests in progress at once, more get 429 (default: 32)')
    return parser.parse_args(argv)


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    set_torch_threads()
    import uvicorn  # the web stack loads after argument errors are reported

    from mmgpt.inference import ChatEngine
    from mmgpt.serving.api_server import create_app

    settings = ServingSettings(
        model_name=args.model_name or os.path.splitext(os.path.basename(args.config))[0],
        image_limits=ImageLimits.from_args(args),
        image_dir=args.image_dir, max_body_bytes=int(args.max_body_mb * 2**20),
        default_max_tokens=args.max_tokens, system_messages=args.system_messages,
        api_key=args.api_key or None, max_pending=args.max_pending)
    print('loading model ...', file=sys.stderr, flush=True)
    cfg = load_config(args.config, args.cfg_options)
    engine = ChatEngine.from_config(cfg, args.checkpoint, device=args.device)
    app = create_app(engine, settings)
    auth = 'bearer token required' if settings.api_key else 'no authentication'
    print(f'serving model {settings.model_name!r} on http://{args.host}:{args.port}/v1 '
          f'({auth})', file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level='info')


if __name__ == '__main__':
    sys.exit(run_cli(main))
