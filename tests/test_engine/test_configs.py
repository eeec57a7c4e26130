"""The paper's training config parses and holds the paper's numbers."""
from engine_fixtures import JOINT_CONFIG, REPO, TINY_CONFIG
from mmengine import Config


def test_joint_config_is_the_papers_recipe():
    cfg = Config.fromfile(JOINT_CONFIG)
    assert cfg.default_scope == 'mmgpt'
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 1e-5
    assert optim.optimizer.weight_decay == 0.1 and optim.clip_grad == dict(max_norm=1.0)
    assert optim.accumulative_counts == 16
    gpus, per_gpu = 8, cfg.train_dataloader.batch_size
    assert gpus * per_gpu * optim.accumulative_counts == 256  # 8 x (1 VL + 1 lang) x 16
    sampler = cfg.train_dataloader.sampler
    assert (sampler.type, sampler.vl_per_iter, sampler.lang_per_iter) == ('JointSampler', 1, 1)
    assert cfg.param_scheduler[0].end == 100 * 16  # released warm-up: 100 updates
    assert cfg.train_cfg == dict(type='ResumableEpochBasedTrainLoop', max_epochs=1)
    assert cfg.default_hooks.checkpoint.interval % optim.accumulative_counts == 0
    vl = {(d.type, d.ann_file.split('/')[-1]): d.get('sample')
          for d in cfg.train_dataloader.dataset.vl}
    assert vl == {
        ('LlavaDataset', 'detail_23k.json'): None,
        ('LlavaDataset', 'complex_reasoning_77k.json'): None,
        ('LlavaDialDataset', 'conversation_58k.json'): None,
        ('CcSbuAlignDataset', 'filter_cap.json'): None,
        ('AOKVQADataset', 'aokvqa_v1p0_train.json'): 5000,
        ('COCOCaptionDataset', 'coco_karpathy_train.json'): 512,
        ('OCRVQADataset', 'dataset.json'): 512,
    }
    assert [d.type for d in cfg.train_dataloader.dataset.lang] == ['DollyDataset',
                                                                   'AlpacaGPT4Dataset']
    assert cfg.model.lora.r == 16 and cfg.model.type == 'MultiModalGPT'


def test_tiny_config_differs_only_in_model_data_loading_and_lengths():
    joint, tiny = Config.fromfile(JOINT_CONFIG), Config.fromfile(TINY_CONFIG)
    assert tiny.optim_wrapper.accumulative_counts == joint.optim_wrapper.accumulative_counts
    assert tiny.train_dataloader.dataset.vl == joint.train_dataloader.dataset.vl
    assert tiny.train_cfg == joint.train_cfg
    assert (REPO / 'configs' / 'README.md').read_text().count('mmgpt_tiny_fixture.py') >= 1
