"""Stage 0 of the demo: contrastive pretraining of the tiny CLIP, as a Runner config."""
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope

from mmgpt.datasets import bind_model_config
from mmgpt.demo import generate_shapes_world
from mmgpt.engine import MMGPTRunner
from mmgpt.models import build_vision_encoder
from mmgpt.models.weights import load_weights_file
from mmgpt.registry import DATASETS, MODELS

STAGE0 = 'configs/demo/stage0_clip_pretrain.py'


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp('world')
    generate_shapes_world(out, num_train=48, num_test=8, eval_per_task=2, num_lang=8)
    return str(out)


def _cfg(world, work_dir, iters=40, **options):
    cfg = Config.fromfile(STAGE0)
    cfg.merge_from_dict({
        'work_dir': str(work_dir), 'train_dataloader.dataset.data_root': world + '/',
        'train_dataloader.dataset.num_batches': iters, 'train_dataloader.dataset.batch_size': 16,
        'param_scheduler.0.total_steps': iters, 'default_hooks.logger.interval': 10,
        'default_hooks.checkpoint.interval': iters // 2,
        'default_hooks.checkpoint.max_keep_ckpts': 2, **options})
    cfg.experiment_name = f'stage0_{work_dir.name}'
    return cfg


def test_batches_hold_distinct_captions_with_their_images(world):
    init_default_scope('mmgpt')
    cfg = Config.fromfile(STAGE0)
    dataset = DATASETS.build(bind_model_config(
        dict(cfg.train_dataloader.dataset, data_root=world + '/', batch_size=16,
             num_batches=3), cfg.model))
    assert dataset.num_pairs == 48 and len(dataset) == 3
    item = dataset[1]
    assert item['images'].shape == (16, 3, 48, 48)
    assert item['texts'].shape == (16, 24)
    assert len({tuple(t.tolist()) for t in item['texts']}) == 16, 'captions are distinct'
    assert torch.equal(dataset[1]['texts'], item['texts']), 'items are deterministic'
    with pytest.raises(IndexError):
        dataset[3]


@pytest.mark.slow  # two short Runner trainings (40 + 20 iterations): 30 s to 4 min here
def test_stage0_trains_on_the_runner_resumes_and_exports_a_loadable_tower(world, tmp_path):
    runner = MMGPTRunner.from_cfg(_cfg(world, tmp_path / 'full'))
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert losses[-5:].mean() < 0.7 * losses[:5].mean(), losses  # 3.3 -> 2.0 measured
    exported = tmp_path / 'full' / 'clip_tiny.safetensors'
    saved = load_weights_file(str(exported))
    assert any(k.startswith('transformer.') for k in saved), 'the text tower is saved too'
    assert not any(k.startswith('clip.') for k in saved), 'an open_clip state dict'
    vision = Config.fromfile(STAGE0).model.vision_encoder
    visual = build_vision_encoder(dict(vision, pretrained=str(exported)))
    for name, value in visual.state_dict().items():
        assert torch.equal(value, saved[f'visual.{name}']), name
    random_tower = build_vision_encoder(dict(vision, pretrained=None))
    assert not torch.equal(random_tower.conv1.weight, visual.conv1.weight)

    # resume from the mid-run checkpoint: the same final weights as the uninterrupted run
    half = tmp_path / 'half'
    resumed = MMGPTRunner.from_cfg(_cfg(world, half, resume=True,
                                        load_from=str(tmp_path / 'full' / 'iter_20.pth')))
    resumed.train()
    assert resumed.iter == 40
    again = load_weights_file(str(half / 'clip_tiny.safetensors'))
    for name, value in saved.items():
        torch.testing.assert_close(again[name], value, rtol=0, atol=0)


def test_text_tower_must_fit_the_tokenizer():
    init_default_scope('mmgpt')
    model = Config.fromfile(STAGE0).model
    vision = model.vision_encoder.copy()
    vision['model_cfg'] = dict(vision['model_cfg'],
                               text_cfg=dict(vision['model_cfg']['text_cfg'], vocab_size=100))
    with pytest.raises(ValueError, match='vocab_size=100 < 515'):
        MODELS.build(dict(model, vision_encoder=vision))


def test_missing_custom_tower_weights_name_the_file(tmp_path):
    vision = Config.fromfile(STAGE0).model.vision_encoder
    with pytest.raises(FileNotFoundError, match='nowhere.safetensors'):
        build_vision_encoder(dict(vision, pretrained=str(tmp_path / 'nowhere.safetensors')))
