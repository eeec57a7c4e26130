"""tools/chat.py: a real terminal session, piped input, and batch mode."""
import json
import subprocess
import sys

from chat_fixtures import CHAT, REPO, Terminal, chat_env

from mmgpt.testing import TINY_MODEL_CONFIG


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
        term.close()


def test_piped_standard_input(checkpoint):
    root, ckpt = checkpoint
    script = f'/image {root / "blue.png"}\nWhat is it?\n/prompt\n'
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, ckpt, '--max-new-tokens',
                          '4', '--no-stream'], input=script, capture_output=True, text=True,
                         env=chat_env(), cwd=REPO, timeout=300)
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
                         capture_output=True, text=True, env=chat_env(), cwd=REPO, timeout=300)
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
                         env=chat_env(), cwd=REPO, timeout=300)
    assert out.returncode == 1  # the run goes on; the bad line says why
    rows = [json.loads(line) for line in (tmp_path / 'o.jsonl').read_text().splitlines()]
    assert rows[1]['line'] == 2 and rows[1]['error'].startswith('expected {"image"')


def test_invalid_generation_option_is_a_usage_error():
    out = subprocess.run([sys.executable, CHAT, TINY_MODEL_CONFIG, '--top-p', '2'],
                         capture_output=True, text=True, env=chat_env(), cwd=REPO, timeout=120)
    assert out.returncode == 2 and 'top_p must be in' in out.stderr
