"""Chat with a trained MultiModal-GPT on a terminal, or answer a JSONL file in batch.

Interactive (also reads piped standard input)::

    python tools/chat.py CONFIG CHECKPOINT [--image PATH] [generation options]
        [--cfg-options key=value ...]

    commands: /image PATH   add an image (bound to your next question)
              /reset        start a new conversation
              /prompt       show the exact prompt of the last answer
              /help         list the commands
              /quit         leave (or Ctrl-D, or Ctrl-C twice at the prompt)
    a line ending in a backslash continues on the next line (multi-line questions);
    Ctrl-C during an answer stops it and returns to the prompt; arrow keys edit the line
    and recall earlier ones (readline).

Batch::

    python tools/chat.py CONFIG CHECKPOINT --batch IN.jsonl --out OUT.jsonl [--resume]

    each input line: {"image": "path or null", "turns": ["question", ...]}
    each output line: the input object plus "line" (its line number in IN) and "answers"
    (one per turn, each answered with the earlier turns as history); a line that cannot
    be answered (invalid JSON, unreadable image, too long) gets an "error" instead and the
    run goes on. OUT is written atomically at the end; meanwhile finished lines go to
    OUT.partial, and --resume keeps the answers of OUT or OUT.partial whose input is
    unchanged. The exit status is 1 if any line failed. Relative image paths are tried
    from the current directory, then from the input file's directory.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmgpt.engine.resume import check_checkpoint_readable  # noqa: E402
from mmgpt.inference import ChatEngine, GenerationOptions  # noqa: E402
from mmgpt.utils import ImageLoadError, atomic_write_bytes, read_rgb_image  # noqa: E402
from mmgpt.utils.cli import (  # noqa: E402
    add_checkpoint_arguments,
    load_config,
    run_cli,
)
from mmgpt.utils.threads import set_torch_threads  # noqa: E402

COMMANDS = {
    '/image PATH': 'add an image; your next question is about it',
    '/reset': 'start a new conversation (turns and images forgotten)',
    '/prompt': 'show the exact prompt of the last answer',
    '/help': 'list these commands',
    '/quit': 'leave (also Ctrl-D, or Ctrl-C twice at the prompt)',
}
HELP = ('commands: /image PATH, /reset, /prompt, /help, /quit; end a line with \\ to continue '
        'it; Ctrl-C stops an answer')


def parse_args(argv=None):
    """Command line."""
    parser = argparse.ArgumentParser(
        description='Chat with a MultiModal-GPT checkpoint',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=HELP)
    add_checkpoint_arguments(parser)
    parser.add_argument('--image', help='an image to start the conversation with')
    parser.add_argument('--batch', help='answer the conversations of this JSONL file')
    parser.add_argument('--out', help='where --batch writes its answers (JSONL)')
    parser.add_argument('--resume', action='store_true',
                        help='--batch: keep the answers already in OUT or OUT.partial')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: the usable cores, or MMGPT_NUM_THREADS)')
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
    if args.resume and not args.batch:
        parser.error('--resume goes with --batch')
    try:
        args.options = GenerationOptions(
            max_new_tokens=args.max_new_tokens, mode=args.mode, num_beams=args.num_beams,
            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
            repetition_penalty=args.repetition_penalty, seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    return args


# ----------------------------------------------------------------------------- checks
def check_inputs(args) -> tuple:
    """Check every path before the model is built; returns ``(cfg, image)``.

    Raises:
        FileNotFoundError: The config, checkpoint, image, batch file or output folder is
            missing.
        OSError, ValueError: The checkpoint or image cannot be read.
    """
    cfg = load_config(args.config, args.cfg_options)
    if 'model' not in cfg:
        raise ValueError(f'{args.config} has no `model` section: pass a training config')
    if args.checkpoint:
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
        if args.checkpoint.endswith('.safetensors'):
            _check_safetensors(args.checkpoint)
        else:
            check_checkpoint_readable(args.checkpoint)
    image = read_rgb_image(args.image) if args.image else None
    if args.batch:
        if not osp.isfile(args.batch):
            raise FileNotFoundError(f'batch file {args.batch} does not exist')
        out_dir = osp.dirname(osp.abspath(args.out))
        if not osp.isdir(out_dir):
            raise FileNotFoundError(f'the folder of --out {args.out} does not exist')
        partial = args.out + '.partial'
        if osp.exists(partial) and not args.resume:
            raise FileExistsError(f'{partial} holds the answers of an interrupted run: pass '
                                  '--resume to keep them, or delete it')
    return cfg, image


def _check_safetensors(path: str) -> None:
    """Read the header of a ``.safetensors`` file (cheap); ValueError if it is damaged."""
    from safetensors import safe_open  # only for .safetensors checkpoints

    try:
        with safe_open(path, framework='pt') as f:
            f.keys()
    except Exception as err:  # safetensors' own error type
        raise ValueError(f'cannot read checkpoint {path}: {err}') from None


def build_engine(cfg, checkpoint: str | None, device: str) -> ChatEngine:
    """The chat engine of ``cfg`` with the trained weights loaded strictly (any layout
    :func:`mmgpt.models.load_checkpoint` reads, the release's LoRA included)."""
    return ChatEngine.from_config(cfg, checkpoint, device=device)


# ----------------------------------------------------------------------------- batch
def _resolve(path: str, base_dir: str) -> str:
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(base_dir, path)


def parse_batch_line(text: str) -> dict:
    """One input line as a record; ValueError says what was expected."""
    try:
        rec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f'invalid JSON at column {err.colno}: {err.msg}') from None
    turns = rec.get('turns') if isinstance(rec, dict) else None
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise ValueError('expected {"image": path or null, "turns": ["question", ...]}')
    image = rec.get('image')
    if image is not None and not isinstance(image, str):
        raise ValueError('"image" must be a path or null')
    return rec


def read_batch(path: str) -> list:
    """``(line number, text)`` of every non-blank line."""
    with open(path, encoding='utf-8') as f:
        return [(n, line.rstrip('\n')) for n, line in enumerate(f, 1) if line.strip()]


def _previous_answers(args, lines: list) -> dict:
    """Answers of an earlier run (OUT, then OUT.partial) whose input line is unchanged."""
    by_line = dict(lines)
    done = {}
    for path in (args.out, args.out + '.partial'):
        if not osp.isfile(path):
            continue
        with open(path, encoding='utf-8') as f:
            for row in f:
                try:
                    old = json.loads(row)
                    rec = parse_batch_line(by_line[old['line']])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line, or an input line that changed or went
                same = all(old.get(k) == rec.get(k) for k in ('image', 'turns'))
                if same and 'error' not in old and len(old.get('answers', [])) == len(
                        rec['turns']):
                    done[old['line']] = old
    return done


def answer_line(engine: ChatEngine, text: str, lineno: int, base_dir: str, options) -> dict:
    """The output record of one input line; a problem goes into its ``error`` field."""
    try:
        rec = parse_batch_line(text)
    except ValueError as err:
        return dict(line=lineno, error=str(err))
    out = dict(rec, line=lineno, answers=[])
    conv = engine.new_conversation()
    try:
        if rec.get('image'):
            conv.add_image(_resolve(rec['image'], base_dir))
    except (ImageLoadError, OSError) as err:
        out['error'] = str(err)
        return out
    for k, question in enumerate(rec['turns'], 1):
        try:
            out['answers'].append(engine.ask(conv, question, options))
        except ValueError as err:  # does not fit the context
            out['error'] = f'turn {k}: {err}'
            break
    return out


def run_batch(engine: ChatEngine, args) -> int:
    """Answer every line of ``args.batch`` into ``args.out``; 1 if any line failed."""
    from tqdm import tqdm

    lines = read_batch(args.batch)
    base_dir = os.path.dirname(os.path.abspath(args.batch))
    done = _previous_answers(args, lines) if args.resume else {}
    if done:
        print(f'--resume: {len(done)} of {len(lines)} lines already answered', file=sys.stderr)
    partial_path = args.out + '.partial'
    results = []
    with open(partial_path, 'a' if args.resume else 'w', encoding='utf-8') as partial:
        for lineno, text in tqdm(lines, desc='conversations', unit='conv', file=sys.stderr):
            result = done.get(lineno)
            if result is None:
                result = answer_line(engine, text, lineno, base_dir, args.options)
                partial.write(json.dumps(result, ensure_ascii=False) + '\n')
                partial.flush()
            results.append(result)
    atomic_write_bytes(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in results)
                       .encode('utf-8'), args.out)
    os.remove(partial_path)
    failed = [r['line'] for r in results if 'error' in r]
    print(f'wrote {len(results)} conversations to {args.out}'
          + (f'; {len(failed)} failed (lines {", ".join(map(str, failed))}): see their '
             '"error"' if failed else ''), file=sys.stderr)
    return 1 if failed else 0


# ----------------------------------------------------------------------------- terminal
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


def _say(text: str) -> None:
    print(f'[{text}]', flush=True)


def _command(engine: ChatEngine, conv, text: str) -> bool:
    """Run a /command; False when it is /quit."""
    name, _, rest = text.partition(' ')
    if name in ('/quit', '/exit'):
        return False
    if name == '/help':
        print('\n'.join(f'  {cmd:<12} {what}' for cmd, what in COMMANDS.items())
              + '\n  a line ending in \\ continues on the next; start a message with // to '
              'send text that begins with /', flush=True)
    elif name == '/image':
        path = rest.strip()
        try:
            conv.add_image(path)
            _say(f'image {path} added: your next question is about it')
        except (OSError, ValueError) as err:  # ImageLoadError names the path itself
            _say(str(err) if 'cannot read image' in str(err) else
                 f'cannot read image {path!r}: {err}')
    elif name == '/reset':
        conv.reset()
        _say('conversation reset')
    elif name == '/prompt':
        print(conv.last_prompt if conv.last_prompt is not None else
              engine.prompt_text(conv, '<your next question>'), flush=True)
    else:
        _say(f'unknown command {name}; /help lists the commands')
    return True


def _answer(engine: ChatEngine, conv, message: str, args) -> None:
    """Ask and print; a too-long message or Ctrl-C leaves the conversation as it was."""
    print('bot> ', end='', flush=True)
    stream = None if args.no_stream else (lambda s: print(s, end='', flush=True))
    last_prompt = conv.last_prompt
    try:
        answer = engine.ask(conv, message, args.options, stream=stream)
    except ValueError as err:
        print(flush=True)
        _say(f'not sent: {err}; shorten it or lower --max-new-tokens (the conversation is '
             'unchanged)')
        return
    except KeyboardInterrupt:
        conv.last_prompt = last_prompt
        print(flush=True)
        _say('answer stopped; this question is not kept in the conversation')
        return
    print(answer if stream is None else '', flush=True)
    if conv.dropped_turns:
        lost = (f' and {conv.dropped_images} image(s): the model no longer sees '
                'them' if conv.dropped_images else '')
        _say(f'context full: dropped the {conv.dropped_turns} oldest turn(s){lost}')


def run_interactive(engine: ChatEngine, args, image=None) -> None:
    """The read-answer loop."""
    interactive = sys.stdin.isatty()
    if interactive:
        import readline  # noqa: F401  (line editing and history for input())
    conv = engine.new_conversation()
    if image is not None:
        conv.add_image(image)
    print(HELP, flush=True)
    interrupted = False
    while True:
        try:
            message = _read_message(interactive)
        except KeyboardInterrupt:
            if interrupted:
                print(flush=True)
                break
            interrupted = True
            print(flush=True)
            _say('press Ctrl-C again or Ctrl-D (or /quit) to leave')
            continue
        interrupted = False
        if message is None:
            print(flush=True)
            break
        text = message.strip()
        if not text:
            continue
        if text.startswith('/') and not text.startswith('//'):
            if not _command(engine, conv, text):
                break
            continue
        _answer(engine, conv, text[1:] if text.startswith('//') else message, args)


def main(argv=None):
    """Entry point: check the inputs, build the model, chat or answer the batch."""
    args = parse_args(argv)
    set_torch_threads(args.threads)
    cfg, image = check_inputs(args)
    print('loading model ...', file=sys.stderr, flush=True)
    engine = build_engine(cfg, args.checkpoint, args.device)
    if args.batch:
        return run_batch(engine, args)
    run_interactive(engine, args, image)
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
