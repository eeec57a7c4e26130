"""What the tools/chat.py tests share: a tiny checkpoint and a real pseudo-terminal."""
import fcntl
import os
import pty
import select
import signal
import subprocess
import termios
import time

import pytest
import torch
from PIL import Image

from mmgpt.testing import build_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHAT = os.path.join(REPO, 'tools', 'chat.py')


#: In the folder of :func:`checkpoint`: the tiny model's frozen base (the whole Flamingo).
BASE_FILE = 'base.pt'


def base_options(root) -> list:
    """Arguments that give tools/chat.py the fixed base of :func:`checkpoint` (without it
    each chat process draws its own random base, and the answers change from run to run)."""
    return ['--cfg-options', f'model.pretrained={os.path.join(root, BASE_FILE)}']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A LoRA checkpoint of the tiny model with random (trained-looking) adapters, its
    frozen base (:data:`BASE_FILE`, see :func:`base_options`), and a red and a blue
    image."""
    root = tmp_path_factory.mktemp('chat')
    base = build_tiny(lora=None).flamingo
    torch.save({k: v.clone() for k, v in torch.nn.Module.state_dict(base).items()},
               root / BASE_FILE)
    model = build_tiny()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    torch.save(model.state_dict(), root / 'lora.pth')
    Image.new('RGB', (40, 40), 'red').save(root / 'red.png')
    Image.new('RGB', (40, 40), 'blue').save(root / 'blue.png')
    return root, str(root / 'lora.pth')


def chat_env():
    """One thread per child chat process, unbuffered output."""
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def _own_terminal():
    """In the child: a new session whose controlling terminal is the pty (so ^C is SIGINT)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A child process (tools/chat.py) on a pseudo-terminal that is its controlling
    terminal, as in a person's shell."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=chat_env(), cwd=REPO, close_fds=True,
                                     start_new_session=True, preexec_fn=_own_terminal)
        os.close(slave)
        self.buffer = ''

    def expect(self, text, timeout=120):
        """Wait for ``text``; return what came before it (and drop both)."""
        end = time.time() + timeout
        while text not in self.buffer:
            ready, _, _ = select.select([self.master], [], [], max(0, end - time.time()))
            if not ready:
                raise AssertionError(f'timed out waiting for {text!r}; got:\n{self.buffer}')
            try:
                self.buffer += os.read(self.master, 4096).decode(errors='replace')
            except OSError:  # the child closed the terminal
                raise AssertionError(f'{text!r} never came; got:\n{self.buffer}') from None
        before, _, self.buffer = self.buffer.partition(text)
        return before

    def type(self, keys):
        """Keys as typed (``'\\x03'`` is Ctrl-C)."""
        os.write(self.master, keys.encode())

    def send(self, line):
        """A line and Enter."""
        self.type(line + '\r')

    def close(self):
        """Kill the child if it still runs; close the terminal."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        os.close(self.master)
