"""Loading OpenFlamingo's released ``checkpoint.pt`` layouts (at tiny sizes), strictly."""
import pytest
import torch

from mmgpt.models import CheckpointKeyError
from mmgpt.testing import build_tiny

#: Names as they appear in OpenFlamingo's released checkpoints (the tiny model has 4
#: LLaMA layers and a block before every 4th, so its only block is at index 3, as the
#: 9B's first one).
RELEASED_KEY_EXAMPLES = [
    'perceiver.latents',
    'perceiver.layers.0.0.norm_media.weight',
    'perceiver.layers.0.0.to_kv.weight',
    'perceiver.layers.0.1.1.weight',
    'perceiver.norm.weight',
    'lang_encoder.model.embed_tokens.weight',
    'lang_encoder.model.layers.3.gated_cross_attn_layer.attn_gate',
    'lang_encoder.model.layers.3.gated_cross_attn_layer.attn.to_q.weight',
    'lang_encoder.model.layers.3.gated_cross_attn_layer.ff.3.weight',
]


def _openflamingo_state(seed=5, v1_aliases=False):
    """A state dict laid out like checkpoint.pt: perceiver, gated x-attn, embeddings."""
    donor = build_tiny(seed=seed, lora=None)
    full = torch.nn.Module.state_dict(donor.flamingo)
    keep = ('perceiver.', 'lang_encoder.model.embed_tokens.')
    state = {k: v.clone() for k, v in full.items()
             if k.startswith(keep) or '.gated_cross_attn_layer.' in k}
    if v1_aliases:  # the v1 9B file also holds the alias list of the x-attn blocks
        for k in list(state):
            if '.gated_cross_attn_layer.' in k:
                idx = k.split('.')[3]
                alias = 'lang_encoder.gated_cross_attn_layers.{}.{}'.format(
                    idx, k.split('.gated_cross_attn_layer.', 1)[1])
                state[alias] = state[k].clone()
    return state


@pytest.mark.parametrize('v1', [False, True], ids=['v2-layout', 'v1-9b-layout'])
def test_released_layout_loads_strictly(tmp_path, v1):
    state = _openflamingo_state(v1_aliases=v1)
    assert set(RELEASED_KEY_EXAMPLES) <= set(state)
    if v1:
        assert 'lang_encoder.gated_cross_attn_layers.3.attn.to_kv.weight' in state
    path = str(tmp_path / 'checkpoint.pt')
    torch.save(state, path)
    model = build_tiny(seed=9, pretrained=path)
    loaded = torch.nn.Module.state_dict(model.flamingo)
    for key in RELEASED_KEY_EXAMPLES:
        # LoRA, added after loading, keeps each adapted Linear as `base_layer`
        target = key if key in loaded else key.replace('.weight', '.base_layer.weight')
        torch.testing.assert_close(loaded[target], state[key], rtol=0, atol=0)


def test_missing_perceiver_or_cross_attention_key_is_an_error(tmp_path):
    state = _openflamingo_state()
    del state['perceiver.latents']
    del state['lang_encoder.model.layers.3.gated_cross_attn_layer.ff_gate']
    path = str(tmp_path / 'checkpoint.pt')
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match='2 missing key') as err:
        build_tiny(pretrained=path)
    assert 'perceiver.latents' in str(err.value) and 'ff_gate' in str(err.value)
    assert path in str(err.value)


def test_unknown_key_is_an_error(tmp_path):
    state = _openflamingo_state()
    state['lang_encoder.model.layers.2.gated_cross_attn_layer.attn_gate'] = torch.zeros(1)
    path = str(tmp_path / 'checkpoint.pt')
    torch.save(state, path)
    with pytest.raises(CheckpointKeyError, match=r'unexpected key\(s\): lang_encoder\.model'
                                                 r'\.layers\.2\.gated_cross_attn_layer'):
        build_tiny(pretrained=path)


def test_disagreeing_v1_alias_is_an_error(tmp_path):
    state = _openflamingo_state(v1_aliases=True)
    state['lang_encoder.gated_cross_attn_layers.3.attn_gate'] += 1
    path = str(tmp_path / 'checkpoint.pt')
    torch.save(state, path)
    with pytest.raises(ValueError, match='hold different values'):
        build_tiny(pretrained=path)


def test_wrong_shape_is_an_error(tmp_path):
    state = _openflamingo_state()
    state['perceiver.latents'] = torch.zeros(3, 3)
    path = str(tmp_path / 'checkpoint.pt')
    torch.save(state, path)
    with pytest.raises(RuntimeError, match='perceiver.latents'):
        build_tiny(pretrained=path)
