"""tools/chat.py: a real terminal session, piped input, and batch mode."""
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from mmgpt.testing import TINY_MODEL_CONFIG, build_tiny

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHAT = os.path.join(REPO, 'tools', 'chat.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A trained-looking LoRA checkpoint of the tiny model, and two images."""
    root = tmp_path_factory.mktemp('chat')
    model = build_tiny()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_B' in name:
                p.normal_(0, 0.2)
    path = root / 'lora.pth'
    torch.save(model.state_dict(), path)
    Image.new('RGB', (40, 40), 'red').save(root / 'red.png')
    Image.new('RGB', (40, 40), 'blue').save(root / 'blue.png')
    return root, str(path)


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')


class Terminal:
    """A child process on a real pseudo-terminal."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     env=_env(), cwd=REPO, close_fds=True)
        os.close(slave)
        self.buffer = ''

    def expect(self, text, timeout=120):
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

    def send(self, line):
        os.write(self.master, (line + '\n').encode())


def test_interactive_session_on_a_terminal(checkpoint):
    root, ckpt = checkpoint
    term = Terminal([sys.executable, CHAT, TINY_MODEL_CONFIG, ckpt, '--image',
                     str(root / 'red.png'), '--max-new-tokens', '5'])
    try:
        term.expect('you> ')
        term.send('What colour is the picture?')
        term.expect('bot> ')
        term.expect('you> ')
        term.send('Is it \\')
        term.expect('...> ')
        term.send('bright?')
        term.expect('bot> ')
        term.expect('you> ')
        term.send('/prompt')
        shown = term.expect('you> ')
        assert '### Image:\r\n<image>' in shown
        assert 'What colour is the picture?' in shown
        assert 'Is it \r\nbright?\r\n\r\n### Response:' in shown
        term.send('/reset')
        term.expect('[conversation reset]')
        term.expect('you> ')
        term.send('/prompt')
        shown = term.expect('you> ')
        assert '<image>' not in shown and 'What colour' not in shown
        term.send('/quit')
        assert term.proc.wait(timeout=60) == 0
    finally:
        term.proc.kill()
        os.close(term.master)


def test_piped_standard_input(checkpoint):
    root, ckpt = checkpoint
    script = f'/image {root / "blue.png"}\nWhat is it?\n/prompt\n'
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, ckpt, '--max-new-tokens',
                          '4', '--no-stream'], input=script, capture_output=True, text=True,
                         env=_env(), cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'image' in out.stdout and '### Instruction:\nWhat is it?' in out.stdout


def test_batch_mode_answers_every_turn(checkpoint, tmp_path):
    root, ckpt = checkpoint
    src = tmp_path / 'in.jsonl'
    src.write_text(json.dumps({'image': str(root / 'red.png'), 'turns': ['A?', 'B?']}) + '\n'
                   + json.dumps({'image': None, 'turns': ['Only text?']}) + '\n')
    dst = tmp_path / 'out.jsonl'
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, ckpt, '--batch', str(src),
                          '--out', str(dst), '--max-new-tokens', '4'],
                         capture_output=True, text=True, env=_env(), cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [len(r['answers']) for r in rows] == [2, 1]
    assert rows[0]['turns'] == ['A?', 'B?'] and all(isinstance(a, str) for a in rows[0]['answers'])


def test_batch_file_errors_name_the_line(checkpoint, tmp_path):
    _, ckpt = checkpoint
    src = tmp_path / 'in.jsonl'
    src.write_text('{"image": null, "turns": ["ok"]}\n{"image": null, "turns": "not a list"}\n')
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, ckpt, '--batch', str(src),
                          '--out', str(tmp_path / 'o.jsonl')], capture_output=True, text=True,
                         env=_env(), cwd=REPO, timeout=300)
    assert out.returncode == 1  # the run goes on; the bad line says why
    rows = [json.loads(line) for line in (tmp_path / 'o.jsonl').read_text().splitlines()]
    assert rows[1]['line'] == 2 and rows[1]['error'].startswith('expected {"image"')


def test_invalid_generation_option_is_a_usage_error():
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, '--top-p', '2'],
                         capture_output=True, text=True, env=_env(), cwd=REPO, timeout=120)
    assert out.returncode == 2 and 'top_p must be in' in out.stderr
