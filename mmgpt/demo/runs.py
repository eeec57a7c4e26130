"""Training runs of the demo's tools in a child process, shown as a progress bar.

``tools/demo.py`` and ``tools/experiments.py`` train with ``tools/train.py`` in a child
process. MMEngine prints a great deal there (the environment, the config, the hooks, a
line per logged iteration); on the console one bar per run says how far it is and its
latest loss, and the whole output goes to a log file, whose last lines are shown if the
run fails.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import deque

__all__ = ['ITER_RE', 'LOSS_RE', 'TrainingFailed', 'run_with_progress']

#: MMEngine's logged iteration: ``Iter(train) [  k/N]``.
ITER_RE = re.compile(r'Iter\(train\) \[\s*(\d+)/(\d+)\]')
#: The total loss of a logged iteration (``loss: 0.1234``, not ``loss_vl``).
LOSS_RE = re.compile(r'\bloss: ([\d.eE+-]+)')
_TAIL_LINES = 40


class TrainingFailed(RuntimeError):
    """A child training process ended with a non-zero status (the message holds the
    end of its output and the log file's path)."""


def run_with_progress(cmd: list[str], log_path: str, desc: str, *, cwd: str | None = None,
                      verbose: bool = False, leave: bool = True) -> float:
    """Run ``cmd``, writing its output to ``log_path`` and showing a progress bar.

    Args:
        cmd (list[str]): The command (a ``tools/train.py`` call).
        log_path (str): Where the whole output goes (its folder is created).
        desc (str): The bar's label.
        cwd (str, optional): The child's working directory. Defaults to None (this one).
        verbose (bool): Also pass every line through to this process's stdout, with no
            bar. Defaults to False.
        leave (bool): Keep the finished bar on the screen. Defaults to True.

    Returns:
        float: The seconds the run took.

    Raises:
        TrainingFailed: The child failed; the message ends with its last lines.
    """
    from tqdm import tqdm

    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    start = time.perf_counter()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    bar = None if verbose else tqdm(total=None, desc=desc, unit='iter', leave=leave,
                                    file=sys.stdout, dynamic_ncols=True)
    with open(log_path, 'w') as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=cwd) as child:
        for line in child.stdout:
            log.write(line)
            tail.append(line)
            if verbose:
                sys.stdout.write(line)
                continue
            match = ITER_RE.search(line)
            if match:
                bar.total = int(match.group(2))
                bar.update(int(match.group(1)) - bar.n)
                loss = LOSS_RE.search(line)
                if loss:
                    bar.set_postfix_str(f'loss {float(loss.group(1)):.4g}', refresh=False)
    if bar is not None:
        bar.close()
    if child.returncode != 0:
        raise TrainingFailed(
            f'{desc}: training failed (exit status {child.returncode}); the whole output is '
            f'in {log_path}, its end:\n' + ''.join(tail).rstrip())
    return time.perf_counter() - start
