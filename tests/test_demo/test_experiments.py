"""The shapes-world experiments: short-answer files, arm configs, metrics, and a smoke run
of every experiment config through tools/experiments.py."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine import Config

from mmgpt.demo.eval_tasks import normalize_words
from mmgpt.demo.experiments import aggregate, markdown_table, run_metrics
from mmgpt.demo.shapes_world import (
    QUESTIONS,
    SHORT_ANSWER_FILES,
    generate_shapes_world,
    write_short_answer_files,
)
from mmgpt.registry import DATASETS

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / 'configs' / 'demo' / 'stage2_mmgpt_lora.py'
ARM_CONFIGS = sorted((REPO / 'configs' / 'experiments').glob('*.py'))


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('world')
    generate_shapes_world(out, num_train=20, num_test=6, eval_per_task=2, num_lang=6)
    return out


# ----------------------------------------------------------------------------- data
def test_short_answer_files_are_one_word_answers_of_the_qa_questions(world):
    cfg = Config.fromfile(REPO / 'configs' / '_base_' / 'datasets' / 'shapes_world.py')
    qa = json.loads((world / 'llava_qa.json').read_text())
    sentences = {}  # (image index, task) -> reference sentence
    for record in qa:
        index, task = record['id'].split('_')
        sentences[(int(index), task)] = record['conversations'][1]['value']
    task_of = {q: ('color' if family == 'word_color' else family)
               for family, phrasings in QUESTIONS.items() for q in phrasings}
    seen = 0
    for entry in (cfg.shapes_vqa_short, cfg.shapes_gqa_short):
        dataset = DATASETS.build(dict(entry, data_root=str(world) + '/'))
        assert len(dataset) > 0
        for index in range(len(dataset)):
            conv = dataset.get_data_info(index)
            turn = conv['turns'][0]
            assert len(turn['response'].split()) == 1, turn
            assert Path(conv['image']).is_file(), conv['image']
            image_index = int(Path(conv['image']).stem)
            sentence = sentences[(image_index, task_of[turn['instruction']])]
            # the one word is the keyword of the sentence-form answer to the same question
            word = turn['response'].lower()
            assert {word, word + 's'} & set(normalize_words(sentence)), (turn, sentence)
            seen += 1
    assert seen == sum(len(json.loads((world / n).read_text())) for n in SHORT_ANSWER_FILES)


def test_short_answer_files_remade_for_an_existing_world(world, tmp_path):
    counts = write_short_answer_files(world, tmp_path)
    for name in SHORT_ANSWER_FILES:
        assert (tmp_path / name).read_bytes() == (world / name).read_bytes()
        assert counts[name] == len(json.loads((world / name).read_text()))
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'meta.json').write_text((world / 'meta.json').read_text())
    (other / 'cc_sbu_align').mkdir()
    caps = json.loads((world / 'cc_sbu_align' / 'filter_cap.json').read_text())
    caps['annotations'][0]['caption'] = 'something else.'
    (other / 'cc_sbu_align' / 'filter_cap.json').write_text(json.dumps(caps))
    with pytest.raises(ValueError, match='do not match'):
        write_short_answer_files(other)
    with pytest.raises(ValueError, match='not a shapes world'):
        write_short_answer_files(tmp_path / 'missing')


# ----------------------------------------------------------------------------- configs
def _flat(value, prefix=''):
    """Config as {dotted key: leaf value}."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flat(item, f'{prefix}{key}.'))
        return out
    return {prefix.rstrip('.'): value}


@pytest.mark.parametrize('config, changed', [
    ('a_short_answers.py', r'^train_dataloader\.dataset\.vl$'),
    ('b_no_language.py', r'^train_dataloader\.(batch_size|sampler\.\w+_per_iter|dataset\.lang)$'),
    ('c_lora_self_attn.py', r'^model\.lora\.target_modules$'),
])
def test_each_arm_overrides_only_what_it_changes(config, changed):
    demo = _flat(Config.fromfile(DEMO_CONFIG).to_dict())
    arm = _flat(Config.fromfile(REPO / 'configs' / 'experiments' / config).to_dict())
    differ = {k for k in demo.keys() | arm.keys() if demo.get(k) != arm.get(k)}
    differ = {k for k in differ if not k.startswith(('shapes_', '_base_'))}
    assert differ and all(re.match(changed, k) for k in differ), differ


# ----------------------------------------------------------------------------- metrics
def _item(task, answer, accept, image=True):
    return dict(task=task, image='x.png' if image else None, answer=answer, accept=[accept],
                choices=[accept, 'other'], chance=0.5)


def test_run_metrics_lengths_groups_and_short_answers():
    items = [_item('count', 'There are two shapes.', 'two'), _item('color', 'x', 'red'),
             _item('dialog', 'They are red.', 'red'), _item('caption', 'a b c d e f', 'c'),
             _item('lang_add', 'The sum is 7.', 'seven', image=False)]
    results = [dict(answer='two', correct=True, strict=False),
               dict(answer='It is red.', correct=True, strict=False),
               dict(answer='Red.', correct=True, strict=False),
               dict(answer='Two red circles in the image.', correct=False, strict=False),
               dict(answer='The sum is 7.', correct=True, strict=True)]
    m = run_metrics(items, results)
    assert m['len/dialog'] == 1 and m['len/caption'] == 6
    assert m['terse/dialog'] == 1.0 and m['terse/caption'] == 0.0
    assert m['short/acc'] == 1.0 and m['short/exact'] == 0.5  # "two" yes, "It is red." no
    assert m['acc/vl'] == 0.75 and m['acc/lang'] == 1.0 and m['strict/lang'] == 1.0
    assert m['acc/all'] == 0.8 and m['strict/all'] == 0.2
    with pytest.raises(ValueError, match='results for'):
        run_metrics(items, results[:2])


def test_aggregate_and_table_show_mean_std_and_range():
    stats = aggregate([0.5, 0.7, 0.9])
    assert stats['mean'] == 0.7 and stats['std'] == 0.2
    assert (stats['min'], stats['max'], stats['n']) == (0.5, 0.9, 3)
    assert aggregate([3.0])['std'] == 0.0
    table = markdown_table({'x': {'acc/vl': stats, 'len/dialog': aggregate([4, 6])}},
                           ['x'], ['acc/vl', 'len/dialog'])
    assert '| 70.0 ± 20.0 (50.0-90.0) |' in table
    assert '| 5.00 ± 1.41 (4.00-6.00) |' in table


# ----------------------------------------------------------------------------- smoke
# a smoke demo (~1 min, shared) + 4 arms x ~12 iterations (~1.5 min); runs in CI
def test_every_experiment_config_runs(smoke_demo, tmp_path):
    docs = tmp_path / 'docs' / 'experiments.md'
    docs.parent.mkdir()
    names = ['table-A', 'table-B', 'table-C', 'runs']
    docs.write_text(''.join(f'<!-- experiments:{n} -->\nold\n<!-- /experiments:{n} -->\n'
                            for n in names))
    work = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'experiments.py'), '--smoke', '--threads', '1',
         '--seeds', '0', '--demo-dir', str(smoke_demo), '--work-dir', str(work),
         '--docs', str(docs)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((work / 'results.json').read_text())
    configs = {rec['config'] for rec in summary['runs'].values()}
    assert configs == {'configs/demo/stage2_mmgpt_lora.py'} | {
        f'configs/experiments/{p.name}' for p in ARM_CONFIGS}
    for name, rec in summary['runs'].items():
        assert rec['iterations'] > 0 and 0 <= rec['metrics']['acc/all'] <= 1, name
    text = docs.read_text()
    assert 'old' not in text
    stats = summary['experiments']['A']['arms']['demo']['len/dialog']
    assert f"{stats['mean']:.2f} ± {stats['std']:.2f}" in text  # the JSON's numbers
    for key in 'ABC':
        for kind in ('loss', 'bars'):
            png = docs.parent / 'images' / f'experiment_{key}_{kind}.png'
            assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', png
    # a second call reuses every finished run
    again = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'experiments.py'), '--smoke', '--threads', '1',
         '--seeds', '0', '--demo-dir', str(smoke_demo), '--work-dir', str(work)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and '4 already done, 0 to train' in again.stdout
