"""Chat with a trained MultiModal-GPT on a terminal, or answer a JSONL file in batch.

Interactive (also reads piped standard input)::

    python tools/chat.py CONFIG CHECKPOINT [--image PATH] [generation options]

    commands: /image PATH   add an image (bound to your next question)
              /reset        start a new conversation
              /prompt       show the exact prompt of the last answer
              /quit         leave (or Ctrl-D)
    a line ending in a backslash continues on the next line (multi-line questions)

Batch::

    python tools/chat.py CONFIG CHECKPOINT --batch IN.jsonl --out OUT.jsonl

    each input line: {"image": "path or null", "turns": ["question", ...]}
    each output line adds "answers": one per turn, each answered with the earlier
    turns as history. Relative image paths are tried from the current directory, then
    from the input file's directory.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from mmgpt.inference import ChatEngine, GenerationOptions
from mmgpt.utils import atomic_write_bytes

HELP = ('commands: /image PATH (add an image), /reset, /prompt (show the exact prompt), '
        '/quit; end a line with \\ to continue it')


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Chat with a MultiModal-GPT checkpoint',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HELP)
    parser.add_argument('config', help='the training config of the checkpoint')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='trained weights (a training checkpoint, .safetensors, or the '
                        'MultiModal-GPT release .pt); omit for the base model')
    parser.add_argument('--image', help='an image to start the conversation with')
    parser.add_argument('--batch', help='answer the conversations of this JSONL file')
    parser.add_argument('--out', help='where --batch writes its answers (JSONL)')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0 (default: cpu)')
    gen = parser.add_argument_group('generation')
    gen.add_argument('--max-new-tokens', type=int, default=128)
    gen.add_argument('--mode', choices=['greedy', 'beam', 'sample'], default='greedy')
    gen.add_argument('--num-beams', type=int, default=3)
    gen.add_argument('--temperature', type=float, default=1.0)
    gen.add_argument('--top-k', type=int, default=0)
    gen.add_argument('--top-p', type=float, default=1.0)
    gen.add_argument('--repetition-penalty', type=float, default=1.0)
    gen.add_argument('--seed', type=int, default=None)
    gen.add_argument('--no-stream', action='store_true', help='print answers when complete')
    args = parser.parse_args(argv)
    if bool(args.batch) != bool(args.out):
        parser.error('--batch and --out go together')
    try:
        args.options = GenerationOptions(
            max_new_tokens=args.max_new_tokens, mode=args.mode, num_beams=args.num_beams,
            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
            repetition_penalty=args.repetition_penalty, seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    return args


def _resolve(path: str, base_dir: str) -> str:
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(base_dir, path)


def _read_batch(path: str) -> list:
    """Read and validate the batch file; errors name the line."""
    records = []
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise SystemExit(f'{path}:{lineno}: invalid JSON ({err.msg})') from None
            turns = rec.get('turns') if isinstance(rec, dict) else None
            if not isinstance(turns, list) or not turns or \
                    not all(isinstance(t, str) for t in turns):
                raise SystemExit(f'{path}:{lineno}: expected {{"image": path or null, '
                                 '"turns": ["question", ...]}')
            image = rec.get('image')
            if image is not None and not isinstance(image, str):
                raise SystemExit(f'{path}:{lineno}: "image" must be a path or null')
            records.append(rec)
    return records


def run_batch(engine: ChatEngine, args) -> None:
    """Answer every conversation of ``args.batch`` into ``args.out``."""
    from tqdm import tqdm

    records = _read_batch(args.batch)
    base_dir = os.path.dirname(os.path.abspath(args.batch))
    lines = []
    for rec in tqdm(records, desc='conversations', unit='conv', file=sys.stderr):
        conv = engine.new_conversation()
        if rec.get('image'):
            conv.add_image(_resolve(rec['image'], base_dir))
        answers = [engine.ask(conv, q, args.options) for q in rec['turns']]
        lines.append(json.dumps(dict(rec, answers=answers), ensure_ascii=False) + '\n')
    atomic_write_bytes(''.join(lines).encode('utf-8'), args.out)
    print(f'wrote {len(records)} conversations to {args.out}', file=sys.stderr)


def _read_message(interactive: bool) -> str | None:
    """Read one (possibly multi-line) message; None at end of input."""
    lines = []
    while True:
        try:
            line = input(('you> ' if not lines else '...> ') if interactive else '')
        except EOFError:
            return '\n'.join(lines) if lines else None
        if line.endswith('\\'):
            lines.append(line[:-1])
            continue
        lines.append(line)
        return '\n'.join(lines)


def run_interactive(engine: ChatEngine, args) -> None:
    """The read-answer loop."""
    interactive = sys.stdin.isatty()
    conv = engine.new_conversation()
    if args.image:
        conv.add_image(args.image)
    print(HELP, flush=True)
    while True:
        message = _read_message(interactive)
        if message is None or message.strip() == '/quit':
            break
        text = message.strip()
        if not text:
            continue
        if text.startswith('/image'):
            path = text[len('/image'):].strip()
            try:
                conv.add_image(path)
                print(f'[image {path} added: your next question is about it]', flush=True)
            except (OSError, ValueError) as err:
                print(f'[cannot read image {path!r}: {err}]', flush=True)
            continue
        if text == '/reset':
            conv.reset()
            print('[conversation reset]', flush=True)
            continue
        if text == '/prompt':
            print(conv.last_prompt if conv.last_prompt is not None else
                  engine.prompt_text(conv, '<your next question>'), flush=True)
            continue
        print('bot> ', end='', flush=True)
        stream = None if args.no_stream else (lambda s: print(s, end='', flush=True))
        answer = engine.ask(conv, message, args.options, stream=stream)
        print(answer if stream is None else '', flush=True)


def main(argv=None):
    """Entry point."""
    args = parse_args(argv)
    print('loading model ...', file=sys.stderr, flush=True)
    engine = ChatEngine.from_config(args.config, args.checkpoint, device=args.device)
    if args.batch:
        run_batch(engine, args)
    else:
        run_interactive(engine, args)


if __name__ == '__main__':
    main()
