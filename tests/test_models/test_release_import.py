"""Importing the MultiModal-GPT release's LoRA checkpoint (its layout, at tiny sizes)."""
import io
import os
import pickle

import mmengine.config.config as mm_config
import pytest
import torch
from mmengine import Config

from mmgpt.inference import ChatEngine
from mmgpt.models import (
    CheckpointKeyError,
    UnsafeCheckpointError,
    load_checkpoint,
    read_release_checkpoint,
)
from mmgpt.models.lora import PAPER_LORA_TARGETS
from mmgpt.models.release import _RestrictedUnpickler, release_key_to_mmgpt
from mmgpt.testing import (
    TINY_MODEL_CONFIG,
    build_tiny,
    open_gates,
    randomize_lora,
    vl_prompt,
)

#: The release's open-mmlab/Multimodal-GPT/configs/lora_config.py (the file its
#: training script read with mmengine.Config.fromfile and pickled into every checkpoint).
RELEASE_LORA_CONFIG = '''tuning_config = dict(
    lora=True,
    lora_target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "to_q", "to_kv", "to_out",
                         "ff.1", "ff.3"],
    lora_r=16,
    lora_alpha=16,
    lora_dropout=0.0,
    vis=True,
    unfrozen=[],
)
'''


def _tuned():
    model = build_tiny()
    open_gates(model)  # frozen base weights: the same in every build_tiny() + open_gates
    randomize_lora(model)
    return model


def _fresh():
    model = build_tiny()
    open_gates(model)
    return model


def _release_names(state, default_adapter=True, ddp=True):
    """This project's trainable names -> the release's (peft-wrapped LM, DDP prefix)."""
    out = {}
    for key, value in state.items():
        name = key.replace('flamingo.lang_encoder.', 'lang_encoder.base_model.model.')
        if not default_adapter:
            name = name.replace('.default.weight', '.weight')
        out[('module.' if ddp else '') + name] = value.clone()
    return out


def _write_release(tmp_path, model, name='mmgpt-lora-v0-release.pt', tuning=True, **kw):
    cfg_file = tmp_path / 'lora_config.py'
    cfg_file.write_text(RELEASE_LORA_CONFIG)
    ckpt = {'epoch': 0, 'model_state_dict': _release_names(model.state_dict(), **kw),
            'optimizer_state_dict': {'state': {0: {'step': torch.tensor(3.0)}},
                                     'param_groups': [{'lr': 1e-5, 'betas': (0.9, 0.999),
                                                       'params': [0]}]},
            'lr_scheduler_state_dict': {'last_epoch': 3, 'lr_lambdas': [None]}}
    if tuning:
        ckpt['tuning_config'] = Config.fromfile(str(cfg_file))  # pickled, as the release did
    path = str(tmp_path / name)
    torch.save(ckpt, path)
    return path


def _logits(model, image):
    with torch.no_grad():
        return model.logits(vl_prompt(model), images=image)


def test_release_keys_look_like_the_release():
    model = build_tiny()
    names = _release_names(model.state_dict())
    assert ('module.lang_encoder.base_model.model.model.layers.3.decoder_layer.self_attn.q_proj'
            '.lora_A.default.weight') in names
    assert ('module.lang_encoder.base_model.model.model.layers.3.gated_cross_attn_layer.ff.1'
            '.lora_B.default.weight') in names
    assert release_key_to_mmgpt(
        'lang_encoder.base_model.model.model.layers.3.gated_cross_attn_layer.attn.to_q.lora_A'
        '.weight') == ('flamingo.lang_encoder.model.layers.3.gated_cross_attn_layer.attn.to_q'
                       '.lora_A.default.weight')


@pytest.mark.parametrize('default_adapter', [True, False], ids=['lora_A.default', 'lora_A'])
@pytest.mark.parametrize('ddp', [True, False], ids=['module.', 'no-prefix'])
def test_release_checkpoint_imports_to_identical_logits(tmp_path, default_adapter, ddp):
    tuned, image = _tuned(), torch.randn(1, 3, 32, 32)
    path = _write_release(tmp_path, tuned, default_adapter=default_adapter, ddp=ddp)
    with pytest.raises(pickle.UnpicklingError):  # the pickled Config: not weights-only
        torch.load(path, weights_only=True)
    direct = _fresh()
    direct.load_state_dict(tuned.state_dict(), strict=True)
    imported = _fresh()
    assert not torch.equal(_logits(imported, image), _logits(tuned, image))
    assert load_checkpoint(imported, path) == 'release'
    torch.testing.assert_close(_logits(imported, image), _logits(direct, image), rtol=0, atol=0)


def test_tuning_config_is_read_as_plain_data(tmp_path):
    path = _write_release(tmp_path, _tuned())
    ckpt = read_release_checkpoint(path)
    assert type(ckpt.tuning_config) is dict
    assert ckpt.tuning_config['lora_r'] == 16 and ckpt.tuning_config['lora_alpha'] == 16
    assert ckpt.tuning_config['lora_target_modules'][-2:] == ['ff.1', 'ff.3']
    assert ckpt.extra_keys == ['epoch', 'lr_scheduler_state_dict', 'optimizer_state_dict']
    assert all(not k.startswith('module.') for k in ckpt)


def test_old_mmengine_config_pickle_is_read_too(monkeypatch):
    """MMEngine of 2023 pickled ConfigDict as dict items + __setstate__, not a call."""
    class OldConfigDict(dict):
        def __getstate__(self):
            return self

        def __setstate__(self, state):
            self.update(state)

    OldConfigDict.__module__, OldConfigDict.__qualname__ = mm_config.__name__, 'ConfigDict'
    monkeypatch.setattr(mm_config, 'ConfigDict', OldConfigDict)
    data = pickle.dumps({'tuning_config': OldConfigDict(lora_r=16, unfrozen=[])}, protocol=2)
    monkeypatch.undo()
    out = _RestrictedUnpickler(io.BytesIO(data)).load()
    assert dict(out['tuning_config']) == {'lora_r': 16, 'unfrozen': []}


def test_unknown_key_is_named(tmp_path):
    tuned = _tuned()
    path = _write_release(tmp_path, tuned)
    ckpt = torch.load(path, weights_only=False)  # our own test file
    extra = 'module.lang_encoder.base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight'
    ckpt['model_state_dict'][extra] = torch.zeros(16, 64)
    torch.save(ckpt, path)
    with pytest.raises(CheckpointKeyError, match=r'1 key\(s\) with no trainable weight') as err:
        load_checkpoint(_fresh(), path)
    assert 'layers.9.self_attn.q_proj.lora_A.weight' in str(err.value) and path in str(err.value)


def test_missing_lora_target_is_named(tmp_path):
    tuned = _tuned()
    path = _write_release(tmp_path, tuned)
    ckpt = torch.load(path, weights_only=False)
    ckpt['model_state_dict'] = {k: v for k, v in ckpt['model_state_dict'].items()
                                if '.ff.3.' not in k}
    torch.save(ckpt, path)
    with pytest.raises(CheckpointKeyError, match=r'2 weight\(s\) of this model not in the file '
                                                 r'\(LoRA targets or unfrozen weights: ff\.3\)'):
        load_checkpoint(_fresh(), path)


def test_lora_scale_mismatch_is_an_error(tmp_path):
    path = _write_release(tmp_path, _tuned())
    model = build_tiny(lora=dict(r=16, alpha=32, dropout=0.0))
    with pytest.raises(ValueError, match='r=16, alpha=16, the config builds r=16, alpha=32'):
        load_checkpoint(model, path)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch pwned_by_pickle',))


def test_release_file_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _write_release(tmp_path, _tuned())
    ckpt = torch.load(path, weights_only=False)
    ckpt['payload'] = _RunsCode()
    torch.save(ckpt, path)
    with pytest.raises(UnsafeCheckpointError, match=r'names posix\.system') as err:
        load_checkpoint(_fresh(), path)
    assert path in str(err.value)
    assert not (tmp_path / 'pwned_by_pickle').exists()


def test_mmgpt_checkpoints_still_load(tmp_path):
    tuned = _tuned()
    path = str(tmp_path / 'iter_16.pth')
    torch.save({'meta': {'iter': 16}, 'state_dict': tuned.state_dict()}, path)
    model = _fresh()
    assert load_checkpoint(model, path) == 'mmgpt'
    image = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(_logits(model, image), _logits(tuned, image), rtol=0, atol=0)


RELEASE_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'configs', 'mmgpt_release_v0.py')


def test_release_config_has_the_release_settings():
    model = Config.fromfile(RELEASE_CONFIG).model
    # the release's targets are the paper's (the default, written once in lora.py)
    assert model.lora == dict(r=16, alpha=16, dropout=0.0)
    assert PAPER_LORA_TARGETS == ('q_proj', 'k_proj', 'v_proj', 'o_proj', 'to_q', 'to_kv',
                                  'to_out', 'ff.1', 'ff.3')
    assert model.unfrozen == [] and model.cross_attn_every_n_layers == 4
    assert model.pretrained == 'checkpoints/OpenFlamingo-9B/checkpoint.pt'
    assert model.lang_model.path == 'checkpoints/llama-7b_hf'
    assert model.vision_encoder.name == 'ViT-L-14' and model.vision_encoder.quick_gelu
    assert model.media_attention == 'preceding' and model.template == 'mmgpt'
    faithful = Config.fromfile(RELEASE_CONFIG.replace('v0.py', 'v0_faithful.py')).model
    assert faithful.media_attention == 'following'
    assert faithful.template == 'mmgpt_release_v0'
    assert faithful.lora == model.lora and faithful.pretrained == model.pretrained


def test_chat_engine_from_the_release_config_imports_the_release_file(tmp_path):
    """The release config with the tiny model's sizes and paths: what tools/chat.py runs."""
    tuned = _tuned()
    path = _write_release(tmp_path, tuned)
    cfg = Config.fromfile(RELEASE_CONFIG)
    tiny = Config.fromfile(TINY_MODEL_CONFIG).model
    for key in ('vision_encoder', 'lang_model', 'tokenizer', 'cross_attn', 'perceiver',
                'pretrained'):
        cfg.model[key] = tiny[key]
    engine = ChatEngine.from_config(cfg, path)
    loaded = engine.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in tuned.state_dict().items())
    assert isinstance(engine.ask(engine.new_conversation(), 'Name a colour.'), str)
