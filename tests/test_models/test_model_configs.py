"""The paper's model config parses and differs from the tiny one in sizes and paths only."""
import os

from mmengine import Config

from mmgpt.models import PAPER_LORA, PAPER_LORA_TARGETS
from mmgpt.testing import TINY_MODEL_CONFIG

PAPER_MODEL_CONFIG = os.path.join(os.path.dirname(TINY_MODEL_CONFIG),
                                  'mmgpt_openflamingo9b_lora.py')
#: Top-level model keys that hold sizes or file locations (and nothing else).
SIZE_OR_PATH_KEYS = {'vision_encoder', 'lang_model', 'tokenizer', 'cross_attn', 'perceiver',
                     'pretrained'}


def test_paper_model_config_is_the_paper():
    model = Config.fromfile(PAPER_MODEL_CONFIG).model
    assert model.type == 'MultiModalGPT'
    assert model.vision_encoder.name == 'ViT-L-14'
    assert model.lang_model.path == 'checkpoints/llama-7b_hf'
    assert model.pretrained == 'checkpoints/OpenFlamingo-9B/checkpoint.pt'
    assert model.cross_attn_every_n_layers == 4
    assert model['freeze'] is True and list(model.unfrozen) == []
    assert dict(model.lora, target_modules=tuple(model.lora.target_modules)) == PAPER_LORA
    assert tuple(model.lora.target_modules) == PAPER_LORA_TARGETS


def test_tiny_differs_only_in_sizes_and_paths():
    paper = Config.fromfile(PAPER_MODEL_CONFIG).model.to_dict()
    tiny = Config.fromfile(TINY_MODEL_CONFIG).model.to_dict()
    assert set(paper) == set(tiny)
    same = set(paper) - SIZE_OR_PATH_KEYS
    assert {k: paper[k] for k in same} == {k: tiny[k] for k in same}
    # the tiny LM is the same family, and the tower is an open_clip ViT config
    assert tiny['lang_model']['config']['model_type'] == 'llama'
    assert set(tiny['vision_encoder']) == set(paper['vision_encoder'])
    assert tiny['tokenizer']['type'] == 'tiny_bpe' and paper['tokenizer']['type'] == 'pretrained'
