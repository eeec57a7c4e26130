"""The shapes world's held-out items in public evaluation formats, read back by the
evaluation datasets of configs/eval/shapes_world.py with the demo's exact questions."""
import json
import os

import pytest
from mmengine import Config
from mmengine.registry import init_default_scope

from mmgpt.demo import generate_shapes_world, summary_from_metrics, write_eval_splits
from mmgpt.registry import DATASETS, METRICS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp('world')
    generate_shapes_world(out, seed=0, num_train=24, num_test=20, eval_per_task=4,
                          num_lang=12)
    return out


def test_every_item_is_read_back_with_its_question(world):
    keys = write_eval_splits(str(world))
    items = json.loads((world / 'eval_items.json').read_text())
    assert len(keys) == len(items) == len(set(keys))
    cfg = Config.fromfile(os.path.join(REPO, 'configs', 'eval', 'shapes_world.py'))
    init_default_scope('mmgpt')
    samples = {}
    for entry in cfg.test_dataloader.dataset.datasets:
        dataset = DATASETS.build(dict(entry, data_root=f'{world}/', pipeline=[]))
        for i in range(len(dataset)):
            sample = dataset[i]
            samples[f"{sample['split']}/{sample['id']}"] = sample
    assert set(samples) == set(keys)
    for item, key in zip(items, keys):
        sample = samples[key]
        # the question the demo asked, its history and image, and its reference
        assert [t['instruction'] for t in sample['turns']] == item['turns'], key
        assert [t['response'] for t in sample['turns'][:-1]] == item['history_answers']
        assert sample['references'][0] == item['answer']
        assert (sample['image'] is None) == (item['image'] is None)
        if item['image']:
            assert sample['image'] == f"{world}/{item['image']}"
    keywords = json.loads((world / 'eval' / 'keywords.json').read_text())
    assert list(keywords) == keys


def test_keyword_metric_and_summary_reproduce_the_demo_scoring(world):
    keys = write_eval_splits(str(world))
    items = json.loads((world / 'eval_items.json').read_text())
    init_default_scope('mmgpt')
    metrics = {}
    for name, answer in (('base', lambda i: 'I do not know.'), ('tuned', lambda i: i['answer'])):
        metric = METRICS.build(dict(type='KeywordAcc',
                                    ann_file=str(world / 'eval' / 'keywords.json')))
        metric.process({}, [dict(split=k.split('/')[0], id=int(k.split('/')[1]),
                                 pred_text=answer(i)) for i, k in zip(items, keys)])
        metrics[name] = metric.evaluate(len(items))
    summary = summary_from_metrics(items, metrics)
    assert summary['overall']['n'] == len(items)
    assert summary['overall']['tuned'] == 1.0 and summary['overall']['base'] == 0.0
    assert summary['tasks']['count'] == dict(n=4, chance=0.3333, base=0.0, tuned=1.0,
                                             base_strict=0.0, tuned_strict=1.0)
    assert list(summary['tasks']) == list(dict.fromkeys(i['task'] for i in items))


# 2-5 min: tools/test.py twice on the trained demo (reused when $MMGPT_DEMO_DIR or
# work_dirs/demo is complete, else trained once, ~10 min)
def test_test_tool_on_vqa_and_caption_splits_equals_the_demo_table(trained_demo, tmp_path):
    import shutil
    import sys
    sys.path.insert(0, os.path.join(REPO, 'tools'))
    import test as test_tool

    data = tmp_path / 'data'
    shutil.copytree(os.path.join(trained_demo, 'data'), data,
                    ignore=shutil.ignore_patterns('cc_sbu_align', 'images'))
    os.symlink(os.path.join(trained_demo, 'data', 'images'), data / 'images')
    write_eval_splits(str(data))
    table = json.loads(open(os.path.join(trained_demo, 'eval.json')).read())['tasks']
    options = [f'model.pretrained={trained_demo}/stage1/openflamingo_tiny.safetensors',
               f'model.vision_encoder.pretrained={trained_demo}/stage0/clip_tiny.safetensors',
               f'test_dataloader.dataset.data_root={data}/',
               f'test_evaluator.0.ann_file={data}/eval/keywords.json']
    for config, tasks in (('shapes_world_vqa.py', ('count', 'color', 'shape', 'word')),
                          ('shapes_world_caption.py', ('caption',))):
        metrics = test_tool.main([
            os.path.join(REPO, 'configs', 'eval', config),
            f'{trained_demo}/stage2/mmgpt_lora.safetensors', '--work-dir',
            str(tmp_path / config), '--no-progress', '--cfg-options', *options])
        for task in tasks:
            assert metrics[f'keyword/{task}/n'] == table[task]['n']
            assert metrics[f'keyword/{task}/keyword'] == pytest.approx(
                100 * table[task]['tuned']), task
            assert metrics[f'keyword/{task}/strict'] == pytest.approx(
                100 * table[task]['tuned_strict']), task
