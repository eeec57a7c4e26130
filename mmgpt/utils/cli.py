"""The command-line tools' error handling: one line a user can act on, not a traceback.

Every tool runs its ``main`` through :func:`run_cli`. A user mistake (a missing file, an
unknown registry ``type``, a bad option value, a wrong or unreadable checkpoint, a
malformed annotation file) ends in::

    train.py: error: <what went wrong, naming the file/key> (hint: <what to do>)

and exit status 2; multi-line messages (such as the list of bad annotation records) keep
their detail lines below it. ``--debug`` on the command line or ``MMGPT_DEBUG=1`` in the
environment re-raises instead, with the full traceback. Ctrl-C ends with status 130.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence

__all__ = ['USER_ERRORS', 'DEBUG_ENV', 'debug_enabled', 'add_debug_argument',
           'add_cfg_options_argument', 'add_checkpoint_arguments', 'add_listen_arguments',
           'format_error', 'load_config', 'run_cli']

#: Exception types reported as user mistakes (exit status 2). Errors that name a file,
#: record or option derive from these (``AnnotationError`` and ``ResumeMismatchError`` are
#: ValueErrors, ``ImageLoadError`` and ``CheckpointReadError`` OSErrors, an unknown
#: registry type is MMEngine's KeyError, a config file that does not parse a SyntaxError).
USER_ERRORS = (OSError, ValueError, KeyError, TypeError, SyntaxError, ImportError,
               AssertionError)
DEBUG_ENV = 'MMGPT_DEBUG'
_MAX_DETAIL_LINES = 25


def debug_enabled(argv: Sequence[str] | None = None) -> bool:
    """Whether ``--debug`` is in ``argv`` (default ``sys.argv``) or ``MMGPT_DEBUG`` is set.

    Args:
        argv (Sequence[str], optional): The arguments. Defaults to ``sys.argv[1:]``.
    """
    argv = sys.argv[1:] if argv is None else argv
    return '--debug' in argv or os.environ.get(DEBUG_ENV, '') not in ('', '0')


def add_debug_argument(parser) -> None:
    """Add ``--debug`` (show tracebacks) to an ``argparse`` parser.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument('--debug', action='store_true',
                        help=f'show the full traceback of an error (or set {DEBUG_ENV}=1)')


def add_cfg_options_argument(parser) -> None:
    """Add ``--cfg-options key=value ...`` (MMEngine's ``DictAction``) to a parser; an item
    without ``=`` is a usage error naming it (MMEngine raises a bare ValueError).

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    from mmengine.config import DictAction  # mmengine on demand: this module stays light

    class _CfgOptions(DictAction):
        def __call__(self, parser, namespace, values, option_string=None):
            bad = [v for v in values if '=' not in v]
            if bad:
                parser.error(f'{option_string}: {bad[0]!r} is not key=value '
                             '(e.g. train_dataloader.num_workers=2)')
            super().__call__(parser, namespace, values, option_string)

    parser.add_argument('--cfg-options', nargs='+', action=_CfgOptions,
                        help='override config keys, e.g. train_dataloader.num_workers=2')


def add_checkpoint_arguments(parser) -> None:
    """The arguments of every tool that loads a trained model for inference (chat, web
    demo, API): ``CONFIG [CHECKPOINT] [--device D] [--cfg-options ...] [--debug]``.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
    """
    parser.add_argument('config', help='the training config of the checkpoint')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='trained weights (a training checkpoint, .safetensors, or the '
                        'MultiModal-GPT release .pt); omit for the base model')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0 (default: cpu)')
    add_cfg_options_argument(parser)
    add_debug_argument(parser)


def add_listen_arguments(parser, port: int, what: str = 'the server') -> None:
    """``--host`` (default 127.0.0.1: this machine only) and ``--port`` of a server tool.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        port (int): The default port.
        what (str): What listens, for the help text. Defaults to ``'the server'``.
    """
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to listen on (default: 127.0.0.1, this machine only; '
                        f'0.0.0.0 exposes {what} to the network)')
    parser.add_argument('--port', type=int, default=port, help=f'(default: {port})')


def load_config(path: str, cfg_options: dict | None = None):
    """``mmengine.Config.fromfile`` whose syntax errors name the file (MMEngine's say
    ``<unknown>``), with ``--cfg-options`` merged.

    Args:
        path (str): The config file.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
    """
    from mmengine.config import Config  # mmengine on demand: this module stays light

    try:
        cfg = Config.fromfile(path)
    except SyntaxError as err:
        if err.filename in (None, '<unknown>'):
            err.filename = path
        raise
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _message(err: BaseException) -> str:
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        text = err.args[0]  # str(KeyError) adds quotes
        # MMEngine's registry message goes on with a generic plea and a URL: the hint says it
        return text.split('. Please check whether', 1)[0] if 'registry' in text else text
    if isinstance(err, SyntaxError) and err.filename:
        return f'{err.filename}, line {err.lineno}: {err.msg}'
    if isinstance(err, OSError) and err.filename and str(err.filename) not in str(err):
        return f'{err.strerror or err}: {err.filename}'
    text = str(err).strip()
    return text or type(err).__name__


def _hint(err: BaseException, text: str) -> str:
    if 'registry' in text and 'not in the' in text:
        return ('check the `type=` name in the config, or list the module that defines it in '
                'custom_imports')
    if isinstance(err, FileNotFoundError) or 'does not exist' in text or 'No such file' in text:
        return f'check the path; relative paths are read from {os.getcwd()}'
    if isinstance(err, SyntaxError):
        return 'fix the config file at that line'
    if re.search(r'\w+Dataset\b', text):
        return "check the dataset's ann_file, data_root and img_prefix, and its files"
    if re.search(r'\bcheckpoint\b', text):
        return 'pass the checkpoint of this config, or another checkpoint'
    if isinstance(err, ImportError):
        return 'check custom_imports and PYTHONPATH'
    return f'--debug or {DEBUG_ENV}=1 shows the traceback'


def format_error(err: BaseException, prog: str) -> str:
    """The message printed for a user mistake: a headline, then any detail lines.

    Args:
        err (BaseException): The exception.
        prog (str): The tool name, such as ``'train.py'``.
    """
    text = _message(err)
    head, *details = text.splitlines()
    line = f'{prog}: error: {head} (hint: {_hint(err, text)})'
    if len(details) > _MAX_DETAIL_LINES:
        details = details[:_MAX_DETAIL_LINES] + [
            f'  ... {len(details) - _MAX_DETAIL_LINES} more lines (--debug shows all)']
    return '\n'.join([line, *details])


def run_cli(main: Callable[[list[str] | None], object], argv: list[str] | None = None,
            prog: str | None = None) -> int:
    """Run a tool's ``main(argv)`` and turn exceptions into one-line errors and exit codes.

    Args:
        main (callable): The tool's entry point; an int it returns is the exit status
            (anything else is 0).
        argv (list[str], optional): Passed to ``main``. Defaults to None (``sys.argv``).
        prog (str, optional): The tool name shown. Defaults to ``sys.argv[0]``'s basename.

    Returns:
        int: The exit status: main's, 2 for a user mistake, 1 for any other error, 130
        after Ctrl-C. With ``--debug`` / ``MMGPT_DEBUG=1`` exceptions propagate.
    """
    prog = prog or os.path.basename(sys.argv[0])
    if debug_enabled(argv):
        return _status(main(argv))
    try:
        status = main(argv)
    except KeyboardInterrupt:
        print(f'\n{prog}: interrupted', file=sys.stderr)
        return 130
    except USER_ERRORS as err:
        print(format_error(err, prog), file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - a bug: still one line, the traceback on demand
        print(f'{prog}: internal error: {type(err).__name__}: {_message(err).splitlines()[0]} '
              f'(hint: rerun with --debug or {DEBUG_ENV}=1 for the traceback, and report it)',
              file=sys.stderr)
        return 1
    return _status(status)


def _status(value) -> int:
    """An exit status from main's return value (an int; anything else is success)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
