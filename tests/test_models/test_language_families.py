"""The Flamingo LM on every supported family: layer list inferred, generation cached."""
import pytest
import torch

from mmgpt.models import infer_decoder_layers_attr
from mmgpt.testing import build_tiny, open_gates, randomize_lora, vl_prompt

FAMILIES = {
    'llama': (dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                   num_attention_heads=4, num_key_value_heads=2), 'model.layers'),
    'opt': (dict(hidden_size=64, ffn_dim=128, num_hidden_layers=4, num_attention_heads=4,
                 word_embed_proj_dim=64), 'model.decoder.layers'),
    'gpt_neox': (dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                      num_attention_heads=4), 'gpt_neox.layers'),
    'gptj': (dict(n_embd=64, n_layer=4, n_head=4, rotary_dim=8), 'transformer.h'),
    'gpt2': (dict(n_embd=64, n_layer=4, n_head=4), 'transformer.h'),
}
LORA = dict(r=4, alpha=4, dropout=0.0, target_modules=['to_q', 'to_kv', 'to_out', 'ff.1', 'ff.3'])


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_family_builds_conditions_on_images_and_caches(family):
    size, attr = FAMILIES[family]
    model = build_tiny(lang_model=dict(config=dict(model_type=family, **size)), lora=LORA)
    assert infer_decoder_layers_attr(model.lang_encoder) == attr
    open_gates(model)
    randomize_lora(model)
    ids = vl_prompt(model)
    img_a, img_b = torch.randn(2, 1, 1, 1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(model.logits(ids, images=img_a),
                                  model.logits(ids, images=img_b))
        args = dict(max_new_tokens=8, min_new_tokens=8)
        cached = model.generate(ids, images=img_a, use_cache=True, **args)
        uncached = model.generate(ids, images=img_a, use_cache=False, **args)
    assert torch.equal(cached, uncached)


def test_unknown_family_asks_for_the_attribute():
    class Fake(torch.nn.Module):
        config = type('C', (), {'model_type': 'mamba'})()

    with pytest.raises(ValueError, match="decoder_layers_attr='model.layers'"):
        infer_decoder_layers_attr(Fake())
