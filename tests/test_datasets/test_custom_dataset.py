"""A user's dataset in their own module, imported with custom_imports (no mmgpt change)."""
import torch
from mmengine.config import Config
from pipeline_fixtures import TOKENIZER, write_project

from mmgpt.registry import DATASETS
from mmgpt.templates import IGNORE_INDEX
from mmgpt.tokenizer import build_tokenizer


def test_custom_dataset_through_config(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    config = write_project(tmp_path, package='custom_project', name='CustomQADataset')
    cfg = Config.fromfile(config)  # imports custom_project.my_dataset
    assert DATASETS.get('CustomQADataset') is not None
    # The user's class alone, named in the config ...
    vl_cfg = cfg.train_dataloader.dataset.vl[0]
    own = DATASETS.build(dict(vl_cfg, pipeline=cfg.train_pipeline))
    assert type(own).__name__ == 'CustomQADataset' and len(own) == 2
    sample = own[1]
    tok = build_tokenizer(TOKENIZER)
    assert sample['dataset'] == 'CustomQADataset' and sample['modality'] == 'vl'
    assert sample['image'].shape == (3, 32, 32)
    sup = sample['input_ids'][sample['labels'] != IGNORE_INDEX]
    assert tok.decode(sup) == 'Blue.\nA blue box.</s>'
    assert int((sample['input_ids'] == tok.convert_tokens_to_ids('<image>')).sum()) == 1
    # ... and inside the joint dataset, next to a built-in one.
    joint = DATASETS.build(cfg.train_dataloader.dataset)
    assert joint.sizes == dict(vl=2, lang=2)
    assert joint[2]['dataset'] == 'DollyDataset' and 'image' not in joint[2]
    assert isinstance(joint[0]['input_ids'], torch.Tensor)
