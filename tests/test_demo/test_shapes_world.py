"""Tests of the shapes-world generator, its file formats, labels and scoring."""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmgpt.demo.eval_tasks import NUMBER_WORDS, format_table, score_answer, summarize
from mmgpt.demo.shapes_world import (
    BACKGROUND,
    COLORS,
    COUNTS,
    LANG_TASKS,
    LANG_WORDS,
    SHAPES,
    VL_TASKS,
    WORDS,
    dialog_turns,
    generate_shapes_world,
    glyph_mask,
    layout,
    qa_items,
    render_scene,
    sample_scene,
)

REPO = Path(__file__).resolve().parents[2]
SMALL = {'num_train': 60, 'num_test': 30, 'eval_per_task': 10, 'num_lang': 30}
NUMBERS = {'one': 1, 'two': 2, 'three': 3}


@pytest.fixture(scope='module')
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('world')
    generate_shapes_world(out, seed=0, **SMALL)
    return out


def _load(path: Path):
    if path.suffix == '.jsonl':
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert('RGB'))


# ----------------------------------------------------------------------------- image checks
def _components(mask: np.ndarray) -> list[np.ndarray]:
    """8-connected components of a bool mask, each as an (N, 2) array of (y, x)."""
    seen = np.zeros_like(mask)
    comps = []
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        queue, pixels = deque([start]), []
        while queue:
            y, x = queue.popleft()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if (0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1]
                            and mask[ny, nx] and not seen[ny, nx]):
                        seen[ny, nx] = True
                        queue.append((ny, nx))
        comps.append(np.array(pixels))
    return comps


def _classify(component: np.ndarray) -> str:
    """Shape from the fill ratio of the bounding box (1.0, ~0.78, ~0.5)."""
    height = np.ptp(component[:, 0]) + 1
    width = np.ptp(component[:, 1]) + 1
    ratio = len(component) / (height * width)
    return 'square' if ratio > 0.95 else 'circle' if ratio > 0.65 else 'triangle'


def _crop(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _check_image(pixels: np.ndarray, labels: dict, image_size: int) -> None:
    """Assert that an image shows what its labels say."""
    ink = (pixels != np.array(BACKGROUND)).any(-1)
    colored = (pixels == np.array(COLORS[labels['color']])).all(-1)
    assert ink.any() and (ink == colored).all(), 'every non-background pixel has the colour'
    if 'word' in labels:
        expected = glyph_mask(labels['word'], layout(image_size)['scale'])
        assert np.array_equal(_crop(colored), _crop(expected))
        return
    comps = _components(colored)
    assert len(comps) == labels['count']
    assert {_classify(c) for c in comps} == {labels['shape']}


def _parse_caption(text: str) -> dict:
    words = text.rstrip('.').split()
    if words[:2] == ['the', 'word']:
        return {'word': words[2], 'color': words[4]}
    return {'count': NUMBERS[words[0]], 'color': words[1], 'shape': words[2].rstrip('s')}


@pytest.mark.parametrize('image_size', [32, 48, 64])
def test_rendered_scenes_match_their_labels(image_size):
    rng = random.Random(image_size)
    kinds = set()
    for _ in range(60):
        scene = sample_scene(rng, image_size)
        kinds.add(scene.kind)
        labels = {'color': scene.color}
        if scene.kind == 'word':
            labels['word'] = scene.word
        else:
            labels.update(count=scene.count, shape=scene.shape)
        _check_image(np.asarray(render_scene(scene, image_size)), labels, image_size)
    assert kinds == {'shapes', 'word'}


def test_written_images_match_captions(world):
    captions = _load(world / 'cc_sbu_align/filter_cap.json')['annotations']
    assert len(captions) == SMALL['num_train']
    for record in captions:
        labels = _parse_caption(record['caption'])
        pixels = _pixels(world / 'images/train' / f'{int(record["image_id"]):05d}.png')
        _check_image(pixels, labels, 48)
        jpg = _pixels(world / 'cc_sbu_align/image' / f'{record["image_id"]}.jpg')
        assert np.abs(jpg.astype(int) - pixels).mean() < 8  # same picture, lossy


def test_labels_cover_the_vocabulary():
    rng = random.Random(0)
    scenes = [sample_scene(rng, 48) for _ in range(400)]
    assert {s.color for s in scenes} == set(COLORS)
    assert {s.shape for s in scenes if s.kind == 'shapes'} == set(SHAPES)
    assert {s.count for s in scenes if s.kind == 'shapes'} == set(COUNTS)
    assert {s.word for s in scenes if s.kind == 'word'} == set(WORDS)


def test_image_size_too_small():
    with pytest.raises(ValueError, match='at least 32'):
        layout(24)


# ----------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_differs(world, tmp_path):
    generate_shapes_world(tmp_path / 'again', seed=0, **SMALL)
    generate_shapes_world(tmp_path / 'other', seed=1, **SMALL)
    first, again, other = _tree(world), _tree(tmp_path / 'again'), _tree(tmp_path / 'other')
    assert first == again
    assert first.keys() == other.keys()
    assert first['eval_items.json'] != other['eval_items.json']
    assert sum(first[k] != other[k] for k in first if k.endswith('.png')) > 0.5 * len(
        [k for k in first if k.endswith('.png')])
    assert not [k for k in first if '.tmp' in k], 'no temporary files left behind'


# ----------------------------------------------------------------------------- formats
@pytest.mark.parametrize('name', ['llava_detail.json', 'llava_qa.json', 'llava_dialog.json'])
def test_llava_files(world, name):
    records = _load(world / name)
    assert isinstance(records, list) and records
    assert len({r['id'] for r in records}) == len(records)
    for record in records:
        assert set(record) == {'id', 'image', 'conversations'}
        assert (world / 'images/train' / record['image']).is_file()
        turns = record['conversations']
        assert len(turns) % 2 == 0 and all(set(t) == {'from', 'value'} for t in turns)
        assert [t['from'] for t in turns] == ['human', 'gpt'] * (len(turns) // 2)
        assert turns[0]['value'].startswith('<image>\n')
        assert all('<image>' not in t['value'] for t in turns[1:])
        assert all(t['value'].strip() for t in turns)
        if name == 'llava_dialog.json':
            assert len(turns) in (4, 6)
        else:
            assert len(turns) == 2


def test_language_files(world):
    dolly = _load(world / 'dolly.jsonl')
    alpaca = _load(world / 'alpaca.json')
    assert len(dolly) == len(alpaca) == SMALL['num_lang']
    for row in dolly:
        assert set(row) == {'instruction', 'context', 'response', 'category'}
        assert row['instruction'] and row['response'] and row['context'] == ''
    for row in alpaca:
        assert set(row) == {'instruction', 'input', 'output'}
        assert row['instruction'] and row['input'] and row['output']
    rows = [(r['instruction'], r['response']) for r in dolly]
    rows += [(f'{r["instruction"]} {r["input"]}', r['output']) for r in alpaca]
    for instruction, response in rows:
        assert response == _expected_lang_response(instruction), instruction


def _expected_lang_response(instruction: str) -> str:
    """Solve a language-only instruction independently of the generator."""
    numbers = [int(n) for n in re.findall(r'\d+', instruction)]
    if numbers:
        return f'The sum is {sum(numbers)}.'
    word = next(w for w in re.findall(r'[a-z]+', instruction) if w in LANG_WORDS)
    if 'capital' in instruction or 'upper' in instruction:
        return f'In capital letters it is {word.upper()}.'
    return f'The reversed word is {word[::-1]}.'


def test_meta_written_last_and_complete(world):
    meta = _load(world / 'meta.json')
    assert meta['params']['num_train'] == SMALL['num_train']
    assert set(meta['tasks']) == set(VL_TASKS + LANG_TASKS)
    for name, info in meta['files'].items():
        assert (world / name).exists() and info['bytes'] > 0


# ----------------------------------------------------------------------------- held out
def test_test_images_are_not_training_images(world):
    def digests(split):
        return {hashlib.sha1(_pixels(p).tobytes()).hexdigest()
                for p in (world / 'images' / split).glob('*.png')}
    train, test = digests('train'), digests('test')
    assert len(test) == SMALL['num_test']
    assert not train & test


def test_eval_items(world):
    items = _load(world / 'eval_items.json')
    tasks = {item['task'] for item in items}
    assert tasks == set(VL_TASKS + LANG_TASKS)
    assert len({item['id'] for item in items}) == len(items)
    for item in items:
        assert item['turns'] and len(item['history_answers']) == len(item['turns']) - 1
        if item['task'] in VL_TASKS:
            assert item['image'].startswith('images/test/')
            assert (world / item['image']).is_file()
            assert item['chance'] < 0.35, item
        else:
            assert item['image'] is None
        assert item['choices'] == [c for g in item['choice_groups'] for c in g]
        assert score_answer(item, item['answer']), item
        assert score_answer(item, item['answer'], strict=True), item
        assert not score_answer(item, 'I do not know.')
        for group in item['choice_groups']:
            right = next(k for k in item['accept'] if k in group)
            for wrong in group:
                if wrong != right:
                    assert not score_answer(item, item['answer'].replace(
                        _surface(item['answer'], right), wrong)), (item, wrong)
                    assert not score_answer(item, f'{item["answer"]} Or {wrong}.')
    dialog = [item for item in items if item['task'] == 'dialog']
    assert all(len(item['turns']) == 2 for item in dialog)


def _surface(answer: str, keyword: str) -> str:
    """How a keyword is written in a reference answer (digits, upper case, plural)."""
    for token in answer.rstrip('.').split():
        if token.lower().rstrip('s') == keyword.lower().rstrip('s') or token == keyword:
            return token
        if token.isdigit() and NUMBER_WORDS[int(token)] == keyword:
            return token
    raise AssertionError(f'{keyword!r} not in {answer!r}')


# ----------------------------------------------------------------------------- scoring
COUNT_ITEM = {'accept': ['two'], 'choices': ['one', 'two', 'three']}
COLOR_ITEM = {'accept': ['red'], 'choices': ['red', 'green', 'blue', 'yellow']}


@pytest.mark.parametrize('text,expected', [
    ('There are two shapes.', True), ('2', True), ('TWO!', True), ('two, maybe three', False),
    ('There is one shape.', False), ('', False)])
def test_score_counts(text, expected):
    assert score_answer(COUNT_ITEM, text) is expected


@pytest.mark.parametrize('text,expected', [
    ('The shapes are red.', True), ('red or blue', False), ('Reddish.', False),
    ('It is RED', True)])
def test_score_colors(text, expected):
    assert score_answer(COLOR_ITEM, text) is expected


def test_score_plural_groups_and_case():
    caption = {'accept': ['two', 'red', 'circle'],
               'choice_groups': [['one', 'two'], ['red', 'blue'], ['circle', 'square']]}
    assert score_answer(caption, 'There are 2 red circles in the image.')
    assert not score_answer(caption, 'There are two red circles and blue squares.')
    assert not score_answer(caption, 'Two red things.')
    upper = {'accept': ['CAT'], 'choices': ['CAT', 'DOG'], 'case_sensitive': True}
    assert score_answer(upper, 'In capital letters it is CAT.')
    assert not score_answer(upper, 'In capital letters it is cat.')


def test_strict_scoring_needs_the_reference_sentence():
    item = {'accept': ['two'], 'choices': ['one', 'two', 'three'],
            'answer': 'There are two shapes.'}
    assert score_answer(item, 'there are 2 shapes', strict=True)
    assert score_answer(item, 'two red circles.')
    assert not score_answer(item, 'two red circles.', strict=True)
    assert not score_answer(item, 'There are three shapes.', strict=True)


def test_a_question_has_one_reference_answer():
    rng = random.Random(3)
    checked = 0
    for _ in range(100):
        scene = sample_scene(rng, 48)
        single = {}
        for seed in range(12):  # every phrasing of each single-turn question
            for item in qa_items(scene, random.Random(seed)):
                single[item['question']] = item['answer']
        for seed in range(6):
            first = dialog_turns(scene, random.Random(seed))[0]
            if first['question'] in single:
                assert first['answer'] == single[first['question']], first['question']
                checked += 1
    assert checked > 100


def test_summarize_and_table():
    items = [{'task': 'count', 'chance': 1 / 3}, {'task': 'count', 'chance': 1 / 3},
             {'task': 'lang_add', 'chance': 0.1}]
    summary = summarize(items, {'base': [False, True, False], 'tuned': [True, True, True]})
    assert summary == {
        'tasks': {'count': {'n': 2, 'chance': 0.3333, 'base': 0.5, 'tuned': 1.0},
                  'lang_add': {'n': 1, 'chance': 0.1, 'base': 0.0, 'tuned': 1.0}},
        'overall': {'n': 3, 'chance': 0.2556, 'base': 0.3333, 'tuned': 1.0}}
    assert summarize(items)['tasks'] == {'count': {'n': 2, 'chance': 0.3333},
                                         'lang_add': {'n': 1, 'chance': 0.1}}
    table = format_table(summary).splitlines()
    assert table[1].split() == ['count', '2', '33.3%', '50.0%', '100.0%']
    assert table[-1].split() == ['all', '3', '25.6%', '33.3%', '100.0%']
    with pytest.raises(ValueError, match='one flag per item'):
        summarize(items, {'base': [True]})


# ----------------------------------------------------------------------------- command
def test_cli(tmp_path):
    out = tmp_path / 'cli'
    command = [sys.executable, str(REPO / 'tools/make_shapes_world.py'), str(out),
               '--num-train', '20', '--num-test', '8', '--eval-per-task', '4', '--seed', '3',
               '--no-progress']
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'llava_qa.json' in done.stdout and 'chance' in done.stdout
    assert len(list((out / 'images/train').glob('*.png'))) == 20
    # a smaller run into the same folder leaves no stale images behind
    command[command.index('--num-train') + 1] = '10'
    assert subprocess.run(command, capture_output=True, env=env, timeout=120).returncode == 0
    assert len(list((out / 'images/train').glob('*.png'))) == 10
    assert len(list((out / 'cc_sbu_align/image').glob('*.jpg'))) == 10
    bad = subprocess.run(command + ['--image-size', '16'], capture_output=True, text=True,
                         env=env, timeout=120)
    assert bad.returncode == 2 and 'at least 32' in bad.stderr
