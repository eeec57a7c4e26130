"""The parsed configs mean what they meant before issue 10 reorganised them.

``fixtures/parsed_configs_before_issue10.json`` is the parse (``Config.fromfile(...)
.to_dict()``) of each config recorded before the configs were changed to declare the
template, tokenizer and vision tower once (in ``model``), to inherit the tiny models
from the 9B one, and to stop restating defaults. The test compares today's parse to it,
after spelling out the values that moved, each listed here:

1. ``model.template`` is new (the model declares its template); absent before, the
   pipeline's ``TokenizeConversation.template`` (default ``'mmgpt'``) was the template.
2. The pipeline's ``vision_encoder``, ``tokenizer`` and ``template`` arguments are no
   longer written in configs: ``bind_model_config`` fills them in from ``model``.
3. ``collate_fn.pad_token_id`` is no longer written: the collate function pads with the
   pad id the model's tokenizer recorded on each sample. For the tiny BPE it is built and
   checked here (514); for LLaMA (``mmgpt_joint.py``, 32002 = 32000 + ``<|endofchunk|>``,
   ``<image>``, ``<PAD>``) the tokenizer files are not available in tests, so the recorded
   32002 is only dropped from the comparison.
4. ``model.lora.target_modules`` and ``optim_wrapper.paramwise_cfg``'s
   ``decay_patterns`` / ``no_decay_patterns`` are left to their code defaults
   (``PAPER_LORA_TARGETS``, ``RELEASED_*_PATTERNS``), defined once.
5. The top-level helper variables ``vision_encoder`` and ``tokenizer`` are gone: they
   were copies of ``model.vision_encoder`` and ``model.tokenizer`` (checked), except
   that the demo stages' model loaded ``vision_encoder.pretrained`` (the stage-0 CLIP)
   while their pipeline's copy said None. The pipeline uses the tower config only for
   its preprocessing, which ``pretrained`` does not change for a ``model_cfg`` tower
   (``build_image_transform``), so the bound pipeline now carries the model's path.
6. The demo stages' dataset entries no longer carry ``data_root``: the stage's
   ``JointDataset`` has one ``data_root`` that it gives every entry without one.
7. The demo stages export their weights with an ``ExportWeightsHook`` in
   ``custom_hooks`` (tools/demo.py used to copy them out of the last checkpoint).
8. Stage 0 was a hand-written loop reading ``captions`` and ``clip_pretrain``; it is a
   Runner config now, compared value by value in
   :func:`test_stage0_keeps_its_recipe`.
9. ``model.tokenizer.historical=True`` of the LLaMA tokenizer came with issue 16 (merged
   into main meanwhile: the exact 2023 LLaMA encoding); not a change of this
   reorganisation, it is spelled out on the recorded side.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from mmengine import Config

from mmgpt.datasets import bind_model_config
from mmgpt.engine.optim import RELEASED_DECAY_PATTERNS, RELEASED_NO_DECAY_PATTERNS
from mmgpt.models import PAPER_LORA_TARGETS
from mmgpt.templates import DEFAULT_TEMPLATE
from mmgpt.tokenizer import build_tokenizer

REPO = Path(__file__).resolve().parents[2]
RECORDED = json.loads((Path(__file__).parent / 'fixtures' /
                       'parsed_configs_before_issue10.json').read_text())
#: Stage 0 is compared in tests/test_demo (it became a Runner config, issue 10 part 3).
CONFIGS = ['configs/mmgpt_joint.py', 'configs/tiny/mmgpt_tiny_fixture.py',
           'configs/demo/stage1_openflamingo_pretrain.py', 'configs/demo/stage2_mmgpt_lora.py']


def _json(value):
    return json.loads(json.dumps(value, default=repr, sort_keys=True))


def _same_tower(a: dict, b: dict) -> bool:
    """Equal vision tower configs, up to ``pretrained`` of a ``model_cfg`` tower."""
    if a.get('model_cfg') is not None:
        a, b = dict(a, pretrained=None), dict(b, pretrained=None)
    return a == b


def _spell_out(cfg: dict, name: str) -> dict:
    """Write out the values each form leaves implicit (items 1-5 of the docstring)."""
    cfg = copy.deepcopy(cfg)
    model = cfg['model']
    if model['tokenizer']['type'] == 'pretrained':  # item 9
        model['tokenizer'].setdefault('historical', True)
        cfg.get('tokenizer', {}).setdefault('historical', True)
        for transform in cfg['train_dataloader']['dataset']['pipeline']:
            transform.get('tokenizer', {}).setdefault('historical', True)
    pipeline = cfg['train_dataloader']['dataset']['pipeline']
    trained_in = [t.get('template', DEFAULT_TEMPLATE) for t in pipeline
                  if t['type'] == 'TokenizeConversation']
    model.setdefault('template', trained_in[0])  # item 1
    if 'vision_encoder' in cfg:  # item 5
        assert _same_tower(cfg.pop('vision_encoder'), model['vision_encoder']), name
    if 'tokenizer' in cfg:
        assert cfg.pop('tokenizer') == model['tokenizer'], name
    for transform in pipeline:  # item 2
        if 'vision_encoder' in transform:
            assert _same_tower(transform.pop('vision_encoder'), model['vision_encoder']), name
        if 'tokenizer' in transform:
            assert transform.pop('tokenizer') == model['tokenizer'], name
        if transform['type'] == 'TokenizeConversation':
            assert transform.pop('template', model['template']) == model['template'], name
    if model.get('lora') is not None:  # item 4
        model['lora'].setdefault('target_modules', list(PAPER_LORA_TARGETS))
    paramwise = cfg['optim_wrapper'].setdefault('paramwise_cfg', {})
    paramwise.setdefault('decay_patterns', list(RELEASED_DECAY_PATTERNS))
    paramwise.setdefault('no_decay_patterns', list(RELEASED_NO_DECAY_PATTERNS))
    dataset = cfg['train_dataloader']['dataset']
    root = dataset.pop('data_root', None)  # item 6
    # Added later (issue 14): the short-answer entries of the shapes-world base file, for
    # configs/experiments/a_short_answers.py; the demo stages do not use them.
    for key in ('shapes_vqa_short', 'shapes_gqa_short'):
        entry = cfg.pop(key, None)
        assert entry is None or entry not in dataset.get('vl', []), key
    for key, entry in cfg.items():  # the shapes-world entries of the base file
        if key.startswith('shapes_') and isinstance(entry, dict):
            assert entry.pop('data_root', cfg['shapes_root']) == cfg['shapes_root'], key
    for modality in ('vl', 'lang'):
        for entry in dataset.get(modality) or []:
            if root is not None and entry.get('data_root') is None:
                entry['data_root'] = root
    cfg['custom_hooks'] = [h for h in cfg['custom_hooks']  # item 7
                           if h['type'] != 'ExportWeightsHook']
    loader = bind_model_config(cfg['train_dataloader'], model)  # item 2
    collate = loader['collate_fn']
    if model['tokenizer']['type'] == 'pretrained':  # item 3
        collate.pop('pad_token_id', None)
    else:
        collate.setdefault('pad_token_id', build_tokenizer(model['tokenizer']).pad_token_id)
    cfg['train_dataloader'] = loader
    return _json(cfg)


@pytest.mark.parametrize('name', CONFIGS)
def test_parsed_config_means_what_it_meant(name):
    before = RECORDED[name]
    now = _json(Config.fromfile(str(REPO / name)).to_dict())
    assert 'template' in now['model'], 'the model config declares its template'
    spelled_before, spelled_now = _spell_out(before, name), _spell_out(now, name)
    assert sorted(spelled_now) == sorted(spelled_before)
    for key in spelled_before:
        assert spelled_now[key] == spelled_before[key], f'{name}: {key} changed'


def test_recorded_values_that_are_no_longer_written():
    joint = RECORDED['configs/mmgpt_joint.py']
    assert joint['train_dataloader']['collate_fn']['pad_token_id'] == 32002
    assert joint['model']['lora']['target_modules'] == list(PAPER_LORA_TARGETS)
    for name in CONFIGS[1:]:
        assert RECORDED[name]['train_dataloader']['collate_fn']['pad_token_id'] == 514
    stage1 = RECORDED['configs/demo/stage1_openflamingo_pretrain.py']
    tokenize = stage1['train_dataloader']['dataset']['pipeline'][1]
    assert tokenize['template'] == 'openflamingo_interleaved'
    now = Config.fromfile(str(REPO / 'configs/demo/stage1_openflamingo_pretrain.py'))
    assert now.model.template == 'openflamingo_interleaved'


def test_stage0_keeps_its_recipe():
    before = RECORDED['configs/demo/stage0_clip_pretrain.py']
    now = Config.fromfile(str(REPO / 'configs/demo/stage0_clip_pretrain.py'))
    recipe = before['clip_pretrain']
    assert recipe == dict(steps=800, batch_size=48, lr=2e-3, weight_decay=0.1, warmup=0.1,
                          seed=0)
    # the same towers and tokenizer
    assert now.model.type == 'ContrastiveCLIP'
    assert now.model.vision_encoder.to_dict() == before['vision_encoder']
    assert now.model.tokenizer.to_dict() == before['tokenizer']
    # the same data: the caption entry, under the demo's data folder
    dataset = now.train_dataloader.dataset
    [captions] = before['captions']
    assert dict(dataset.captions[0], data_root=dataset.data_root) == captions
    # the same batches and optimisation: AdamW(lr, wd) with a one-cycle schedule
    assert (dataset.num_batches, dataset.batch_size, dataset.seed) == (
        recipe['steps'], recipe['batch_size'], recipe['seed'])
    assert now.train_dataloader.batch_size == 1 and now.train_cfg.max_epochs == 1
    optimizer = now.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == (
        'AdamW', recipe['lr'], recipe['weight_decay'])
    [schedule] = now.param_scheduler
    assert (schedule.type, schedule.eta_max, schedule.total_steps, schedule.pct_start) == (
        'CheckpointableOneCycleLR', recipe['lr'], recipe['steps'], recipe['warmup'])
