"""Trainable-only state dicts, strict reloading, and refusing unsafe pickles."""
import os
import re

import pytest
import torch
from safetensors.torch import save_file

from mmgpt.models import (
    CheckpointKeyError,
    UnsafeCheckpointError,
    load_weights_file,
    save_weights_file,
)
from mmgpt.testing import build_tiny, open_gates, randomize_lora, vl_prompt


def _trained_model():
    model = build_tiny(unfrozen=[r'perceiver\.latents'])
    open_gates(model)
    randomize_lora(model)
    with torch.no_grad():
        model.flamingo.perceiver.latents.add_(1.0)
    return model


def test_state_dict_has_trainable_weights_only_one_name_each():
    model = _trained_model()
    sd = model.state_dict()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert list(sd) == trainable
    assert not any('old_decoder_blocks' in k or '.gated_cross_attn_layers.' in k for k in sd)
    assert len({v.data_ptr() for v in sd.values()}) == len(sd)


@pytest.mark.parametrize('fmt', ['pth', 'safetensors'])
def test_save_then_load_into_a_fresh_model_gives_identical_outputs(tmp_path, fmt):
    model = _trained_model()
    path = str(tmp_path / f'lora.{fmt}')
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, path) if fmt == 'pth' else save_file(sd, path)
    fresh = build_tiny(unfrozen=[r'perceiver\.latents'])
    open_gates(fresh)  # the gates are frozen base weights, the same in both
    ids, image = vl_prompt(model), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(fresh.logits(ids, images=image), model.logits(ids, images=image))
        fresh.load_state_dict(load_weights_file(path), strict=True)
        torch.testing.assert_close(fresh.logits(ids, images=image),
                                   model.logits(ids, images=image), rtol=0, atol=0)


def test_unknown_key_fails_naming_it():
    model = build_tiny()
    sd = dict(model.state_dict())
    sd['flamingo.lang_encoder.model.layers.9.self_attn.q_proj.lora_A.default.weight'] = \
        torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match=r'1 unexpected key\(s\): .*layers\.9\.self_attn'):
        build_tiny().load_state_dict(sd, strict=True)


def test_missing_key_fails_naming_it():
    model = build_tiny()
    sd = dict(model.state_dict())
    dropped = ('flamingo.lang_encoder.model.layers.3.gated_cross_attn_layer.ff.1'
               '.lora_B.default.weight')
    del sd[dropped]
    with pytest.raises(CheckpointKeyError, match=r'1 missing key\(s\): ' + re.escape(dropped)):
        build_tiny().load_state_dict(sd, strict=True)


class _RunsCode:
    def __reduce__(self):
        return (os.system, ('touch pwned_by_pickle',))


def test_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / 'evil.pth')
    torch.save({'weight': torch.zeros(1), 'payload': _RunsCode()}, path)
    with pytest.raises(UnsafeCheckpointError, match='refusing to load'):
        load_weights_file(path)
    assert not (tmp_path / 'pwned_by_pickle').exists()


def test_nested_and_ddp_prefixed_state_dicts_are_unwrapped(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {'module.a': torch.ones(2)}, 'step': 3}, path)
    assert list(load_weights_file(path)) == ['a']


def test_save_weights_file_round_trips_and_leaves_no_temporary_file(tmp_path):
    state = {'a': torch.arange(6.0).reshape(2, 3).t(), 'b': torch.ones(2, dtype=torch.int64)}
    path = tmp_path / 'new' / 'w.safetensors'
    save_weights_file(state, str(path))
    loaded = load_weights_file(str(path))
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert os.listdir(path.parent) == ['w.safetensors']
    with pytest.raises(ValueError, match='.safetensors'):
        save_weights_file(state, str(tmp_path / 'w.pth'))
