"""Stage 0 of the demo: contrastive pretraining of the tiny CLIP tower."""
import pytest
import torch
from mmengine import Config
from mmengine.registry import init_default_scope

from mmgpt.demo import generate_shapes_world
from mmgpt.demo.clip_pretrain import pretrain_clip, read_captions
from mmgpt.models import build_vision_encoder
from mmgpt.models.weights import load_weights_file
from mmgpt.registry import DATASETS

STAGE0 = 'configs/demo/stage0_clip_pretrain.py'


@pytest.fixture(scope='module')
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp('world')
    generate_shapes_world(out, num_train=48, num_test=8, eval_per_task=2, num_lang=8)
    init_default_scope('mmgpt')
    cfg = Config.fromfile(STAGE0)
    datasets = [DATASETS.build(dict(d, data_root=str(out))) for d in cfg.captions]
    return read_captions(datasets)


def test_pairs_are_images_with_their_captions(pairs):
    assert len(pairs) == 48
    path, caption = pairs[0]
    assert path.endswith('.jpg') and caption.endswith('.') and ' ' in caption


def test_pretraining_learns_and_saves_a_loadable_tower(pairs, tmp_path):
    cfg = Config.fromfile(STAGE0)
    out = str(tmp_path / 'clip.safetensors')
    metrics = pretrain_clip(pairs, cfg.vision_encoder, cfg.tokenizer, out, steps=40,
                            batch_size=16, lr=2e-3)
    assert metrics['loss'] < 0.6 * metrics['first_loss'], metrics
    assert metrics['num_pairs'] == 48 and metrics['num_captions'] <= 48
    saved = load_weights_file(out)
    assert any(k.startswith('transformer.') for k in saved), 'the text tower is saved too'
    visual = build_vision_encoder(dict(cfg.vision_encoder, pretrained=out))
    for name, value in visual.state_dict().items():
        assert torch.equal(value, saved[f'visual.{name}']), name
    random_tower = build_vision_encoder(dict(cfg.vision_encoder, pretrained=None))
    assert not torch.equal(random_tower.conv1.weight, visual.conv1.weight)


def test_text_tower_must_fit_the_tokenizer(pairs, tmp_path):
    cfg = Config.fromfile(STAGE0)
    vision = cfg.vision_encoder.copy()
    vision['model_cfg'] = dict(vision['model_cfg'],
                               text_cfg=dict(vision['model_cfg']['text_cfg'], vocab_size=100))
    with pytest.raises(ValueError, match='vocab_size=100 < 515'):
        pretrain_clip(pairs, vision, cfg.tokenizer, str(tmp_path / 'c.safetensors'), steps=1)


def test_missing_custom_tower_weights_name_the_file(tmp_path):
    cfg = Config.fromfile(STAGE0)
    with pytest.raises(FileNotFoundError, match='nowhere.safetensors'):
        missing = str(tmp_path / 'nowhere.safetensors')
        build_vision_encoder(dict(cfg.vision_encoder, pretrained=missing))
