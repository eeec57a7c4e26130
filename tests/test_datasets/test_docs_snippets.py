"""The snippets of docs/custom_dataset.md, pasted as they are, build and browse a dataset."""
import json
import os
import re
import subprocess
import sys

from PIL import Image

from mmgpt.testing import write_fixture_data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(REPO, 'configs', 'tiny', 'mmgpt_tiny_fixture.py')


def _python_blocks(path):
    with open(path, encoding='utf-8') as f:
        return re.findall(r'```python\n(.*?)```', f.read(), flags=re.S)


def test_custom_dataset_snippets_paste_into_a_config_and_run(tmp_path):
    blocks = _python_blocks(os.path.join(REPO, 'docs', 'custom_dataset.md'))
    module = next(b for b in blocks if 'class MyQADataset(ConversationDataset)' in b)
    config = next(b for b in blocks if b.startswith('_base_ = '))
    pipeline = next(b for b in blocks if "train_dataloader['dataset']['pipeline']" in b)
    assert 'path/to/mmgpt/configs/mmgpt_joint.py' in config
    (tmp_path / 'my_project').mkdir()
    (tmp_path / 'my_project' / '__init__.py').write_text('')
    (tmp_path / 'my_project' / 'my_dataset.py').write_text(module)
    # the tiny config is mmgpt_joint.py with small sizes: the same keys, no download
    (tmp_path / 'my_config.py').write_text(
        config.replace('path/to/mmgpt/configs/mmgpt_joint.py', TINY) + '\n' + pipeline)
    write_fixture_data(tmp_path)  # data/dolly/databricks-dolly-15k.jsonl among others
    images = tmp_path / 'data' / 'my_data' / 'images'
    images.mkdir(parents=True)
    Image.new('RGB', (24, 24), (200, 0, 0)).save(images / '0001.jpg')
    (tmp_path / 'data' / 'my_data' / 'qa.json').write_text(json.dumps(
        [dict(image='0001.jpg', question='What is in the box?', answer='A red ball.')]))
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'browse_dataset.py'), 'my_config.py',
         '--num', '2', '--json'], cwd=str(tmp_path), capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS='1'), timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r['dataset'] for r in rows] == ['MyQADataset', 'DollyDataset']
    assert rows[0]['supervised'] == ['A red ball.</s>']
    assert rows[0]['image'] == 'data/my_data/images/0001.jpg'
