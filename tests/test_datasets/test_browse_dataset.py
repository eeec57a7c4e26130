"""tools/browse_dataset.py on a config whose data are fixture files."""
import json
import os
import subprocess
import sys

from pipeline_fixtures import DOLLY, QA, write_project

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def browse(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'browse_dataset.py'), *args],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_browse_json(tmp_path):
    config = write_project(tmp_path)
    out = browse(tmp_path, config, '--num', '4', '--json')
    records = [json.loads(line) for line in out.splitlines() if line.startswith('{')]
    assert len(records) == 4
    # The joint sampler's order: one vision-language, then one language-only sample.
    assert [r['dataset'] for r in records] == ['MyQADataset', 'DollyDataset'] * 2
    answers = {q['answer'] for q in QA}
    responses = {d['response'] for d in DOLLY}
    for r in records:
        assert r['text'].startswith('<s>Below is an instruction')
        assert r['text'].count('<s>') == 1
        assert len(r['supervised']) == 1 and r['supervised'][0].endswith('</s>')
        if r['modality'] == 'vl':
            assert r['supervised'][0][:-4] in answers
            assert '\n\n### Image:\n<image>\n\n### Instruction:\n' in r['text']
            assert r['num_image_tokens'] == 1 and r['num_images'] == 1
            assert r['image_shape'] == [3, 32, 32]
        else:
            assert r['supervised'][0][:-4] in responses
            assert r['num_image_tokens'] == 0 and r['num_images'] == 0
    dolly_with_input = [r for r in records if r['supervised'] == ['3</s>']]
    for r in dolly_with_input:
        assert '### Input:\n1 and 2\n\n### Response:\n3</s>' in r['text']


def test_browse_text_marks_supervised_spans(tmp_path):
    config = write_project(tmp_path)
    out = browse(tmp_path, config, '--num', '2', '--index-order',
                 '--cfg-options', 'train_dataloader.dataset.vl.0.img_prefix=images')
    assert out.count('=== #') == 2
    assert 'MyQADataset (vl)' in out
    assert '### Response:\n[[It is red.</s>]]' in out
    assert '\x1b[' not in out  # no colour when not on a terminal
