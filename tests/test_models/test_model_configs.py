"""The paper's model config, and the tiny ones that inherit it (sizes and paths only)."""
import ast
import os
from pathlib import Path

from mmengine import Config

from mmgpt.models import PAPER_LORA, PAPER_LORA_TARGETS
from mmgpt.testing import TINY_MODEL_CONFIG

MODELS_DIR = Path(TINY_MODEL_CONFIG).parent
PAPER_MODEL_CONFIG = os.path.join(MODELS_DIR, 'mmgpt_openflamingo9b_lora.py')
#: Model keys a tiny config may override: sizes and file locations, nothing else.
SIZE_OR_PATH_KEYS = {'vision_encoder', 'lang_model', 'tokenizer', 'cross_attn', 'perceiver',
                     'pretrained', 'cross_attn_every_n_layers'}


def test_paper_model_config_is_the_paper():
    model = Config.fromfile(PAPER_MODEL_CONFIG).model
    assert model.type == 'MultiModalGPT'
    assert model.template == 'mmgpt'
    assert model.vision_encoder.name == 'ViT-L-14'
    assert model.lang_model.path == 'checkpoints/llama-7b_hf'
    assert model.pretrained == 'checkpoints/OpenFlamingo-9B/checkpoint.pt'
    assert model.cross_attn_every_n_layers == 4
    assert model['freeze'] is True and list(model.unfrozen) == []
    # the targets are the model's default (written once, in mmgpt/models/lora.py)
    assert 'target_modules' not in model.lora
    assert dict(model.lora, target_modules=PAPER_LORA_TARGETS) == PAPER_LORA


def _base_and_model_keys(path: Path) -> tuple[list, set]:
    """The ``_base_`` list and the keys of ``model = dict(...)`` as written in the file."""
    tree = ast.parse(path.read_text())
    base, keys = [], set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == '_base_':
                base = ast.literal_eval(node.value)
            elif name == 'model':
                keys = {k.arg for k in node.value.keywords}
            else:
                raise AssertionError(f'{path.name} defines {name!r}: a model config holds '
                                     'only `_base_` and `model`')
    return base, keys


def test_tiny_configs_inherit_the_paper_model_and_override_sizes_and_paths_only():
    for name, parent in [('mmgpt_tiny.py', 'mmgpt_openflamingo9b_lora.py'),
                         ('mmgpt_tiny_shapes.py', 'mmgpt_tiny.py')]:
        base, keys = _base_and_model_keys(MODELS_DIR / name)
        assert base == [f'./{parent}'], name
        assert keys <= SIZE_OR_PATH_KEYS, f'{name} overrides {keys - SIZE_OR_PATH_KEYS}'
    paper = Config.fromfile(PAPER_MODEL_CONFIG).model.to_dict()
    for name in ('mmgpt_tiny.py', 'mmgpt_tiny_shapes.py'):
        tiny = Config.fromfile(str(MODELS_DIR / name)).model.to_dict()
        assert set(tiny) == set(paper)
        same = set(paper) - SIZE_OR_PATH_KEYS
        assert {k: tiny[k] for k in same} == {k: paper[k] for k in same}
        assert tiny['lang_model'] == dict(config=tiny['lang_model']['config'])  # no path
        assert tiny['lang_model']['config']['model_type'] == 'llama'
        assert tiny['tokenizer'] == dict(type='tiny_bpe', vocab_size=512)
        assert tiny['pretrained'] is None and tiny['vision_encoder']['pretrained'] is None
        assert set(tiny['vision_encoder']) == set(paper['vision_encoder'])


def test_each_value_is_written_once_in_the_configs():
    """LoRA targets, decay patterns and the pad id are not restated in any config."""
    configs = Path(TINY_MODEL_CONFIG).parents[2]
    texts = {p: p.read_text() for p in configs.rglob('*.py')}
    for needle in ("'ff.1'", 'target_modules=', "'gated_cross_attn_layer'", 'pad_token_id=',
                   "'attn_gate'", 'template='):
        hits = [str(p.relative_to(configs)) for p, t in texts.items() if needle in t]
        if needle == 'template=':
            # the 9B model declares it; stage 1 and the release's faithful config declare
            # their own (another form)
            assert sorted(hits) == ['_base_/models/mmgpt_openflamingo9b_lora.py',
                                    'demo/stage1_openflamingo_pretrain.py',
                                    'mmgpt_release_v0_faithful.py'], hits
        elif needle == 'target_modules=':
            # only experiment C, whose point is other targets (self-attention only)
            assert hits == ['experiments/c_lora_self_attn.py'], hits
        else:
            assert hits == [], f'{needle} is restated in {hits}'
