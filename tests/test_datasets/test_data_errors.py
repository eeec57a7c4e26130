"""Data mistakes a user makes: empty or fully filtered files, broken images, a dialogue
that starts with the answer, and browse_dataset's output when samples are replaced."""
import json
import os
import subprocess
import sys

import pytest
from pipeline_fixtures import pipeline, write_image, write_json, write_project

from mmgpt.datasets import JointDataset, LlavaDataset
from mmgpt.datasets.base import AnnotationError, EmptyDatasetError, SampleLoadError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _llava(image, question='What is it?', answer='A box.', id_=None):
    return dict(id=id_ or image, image=image, conversations=[
        {'from': 'human', 'value': f'<image>\n{question}'}, {'from': 'gpt', 'value': answer}])


def test_empty_file_names_the_file(tmp_path):
    path = write_json(tmp_path / 'detail.json', [])
    with pytest.raises(EmptyDatasetError, match=f'LlavaDataset: no conversations in {path}: '
                       'the file.s. hold no records'):
        LlavaDataset(ann_file=path)


def test_fully_filtered_file_says_why(tmp_path):
    path = write_json(tmp_path / 'detail.json', [_llava('a.png', answer=' '),
                                                  _llava('b.png', answer='')])
    with pytest.raises(EmptyDatasetError, match=r'all 2 record\(s\) were left out: 0 by '
                       r'LlavaDataset.parse .*2 conversation\(s\) with an empty response'):
        LlavaDataset(ann_file=path)


def test_empty_dataset_inside_a_joint_mix_is_named(tmp_path):
    good = write_json(tmp_path / 'good.json', [_llava('a.png')])
    empty = write_json(tmp_path / 'empty.json', [])
    with pytest.raises(EmptyDatasetError, match=f'no conversations in {empty}'):
        JointDataset(vl=[dict(type='LlavaDataset', ann_file=good),
                         dict(type='LlavaDataset', ann_file=empty)])
    with pytest.raises(EmptyDatasetError, match=r'ToyConversationDataset \(lang\[0\] of '
                       'JointDataset\\) has no samples'):
        JointDataset(vl=[dict(type='LlavaDataset', ann_file=good)],
                     lang=[dict(type='ToyConversationDataset', modality='lang')])


def test_every_image_broken_ends_in_an_error_naming_the_dataset(tmp_path):
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    path = write_json(tmp_path / 'detail.json', [
        _llava('missing.png'), _llava('broken.png'), _llava('missing2.png')])
    dataset = LlavaDataset(ann_file=path, img_prefix=str(tmp_path), pipeline=pipeline())
    with pytest.raises(SampleLoadError, match=f'LlavaDataset \\({path}\\): 2 samples skipped in '
                       r'this process, more than max_skipped=0.5 of 3; last failures: sample'):
        dataset[0]
    patient = LlavaDataset(ann_file=path, img_prefix=str(tmp_path), pipeline=pipeline(),
                           max_skipped=10 ** 6, max_refetch=20)
    with pytest.raises(SampleLoadError, match='21 samples in a row could not be loaded'):
        patient[1]


def test_a_broken_image_is_replaced_and_counted(tmp_path):
    write_image(tmp_path / 'ok.png')
    path = write_json(tmp_path / 'detail.json', [_llava('missing.png'), _llava('ok.png')])
    dataset = LlavaDataset(ann_file=path, img_prefix=str(tmp_path), pipeline=pipeline(),
                           max_skipped=5)
    sample = dataset[0]
    assert sample['modality'] == 'vl' and dataset.last_index == 1
    assert dataset.num_skipped >= 1


def test_dialogue_starting_with_gpt_names_the_real_fault(tmp_path):
    record = dict(id='x', image='a.png', conversations=[
        {'from': 'gpt', 'value': 'An answer first.'},
        {'from': 'human', 'value': '<image>\nA question?'},
        {'from': 'gpt', 'value': 'Another answer.'}])
    path = write_json(tmp_path / 'conv.json', [record])
    with pytest.raises(AnnotationError) as err:
        LlavaDataset(ann_file=path)
    assert "got 'gpt' at position 0" in str(err.value)
    assert 'the last has no answer' not in str(err.value)


def test_browse_json_stdout_is_only_json_and_marks_replacements(tmp_path):
    config = write_project(tmp_path)
    (tmp_path / 'data' / 'images' / 'red.png').write_bytes(b'broken')
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO, 'tools', 'browse_dataset.py'), config, '--num', '4',
         '--json', '--index-order', '--cfg-options', 'train_dataloader.dataset.vl.0.max_skipped=5'],
        capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path)),
        cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]  # every line is JSON
    assert len(records) == 4
    assert 'red.png' in proc.stderr and 'WARNING' in proc.stderr  # the warning went to stderr
    first = records[0]
    assert first['replaces'] == 0 and first['index'] == 1
    assert first['image'].endswith('blue.jpg') and first['id'] == 1
    assert all('replaces' not in r for r in records[1:])
    assert [r['image'] is None for r in records] == [False, False, True, True]
