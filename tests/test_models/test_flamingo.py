"""Image conditioning, the language-only path and KV-cached generation."""
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from mmgpt.testing import build_tiny, open_gates, randomize_lora, tiny_model_cfg, vl_prompt


def _image(seed):
    return torch.randn(1, 1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def _sensitive_model():
    model = build_tiny()
    open_gates(model)
    randomize_lora(model)
    return model


@torch.no_grad()
def test_text_after_image_attends_to_it_and_text_before_does_not():
    model = _sensitive_model()
    ids = vl_prompt(model)
    pos = (ids[0] == model.media_token_id).nonzero().item()
    a = model.logits(ids, images=_image(0))
    b = model.logits(ids, images=_image(1))
    diff = (a - b).abs().amax(-1)[0]
    assert torch.all(diff[:pos] == 0), 'text before <image> must not see the image'
    assert torch.all(diff[pos + 1:] > 1e-4), 'every position after <image> must see it'


@torch.no_grad()
def test_closed_gates_make_the_image_irrelevant():
    model = build_tiny()  # gates at 0 as initialised
    ids = vl_prompt(model)
    torch.testing.assert_close(model.logits(ids, images=_image(0)),
                               model.logits(ids, images=_image(1)), rtol=0, atol=0)


@torch.no_grad()
def test_language_only_forward_equals_the_plain_language_model():
    model = build_tiny()  # LoRA B = 0: the adapted LM equals the base LM
    open_gates(model)  # open gates, so a missed skip would change the logits
    lm_cfg = dict(tiny_model_cfg()['lang_model']['config'])
    plain = AutoModelForCausalLM.from_config(AutoConfig.for_model(lm_cfg.pop('model_type'),
                                                                  **lm_cfg))
    plain.resize_token_embeddings(len(model.tokenizer))
    base = {}
    for name, value in torch.nn.Module.state_dict(model.lang_encoder).items():
        if name.startswith(('old_decoder_blocks.', 'gated_cross_attn_layers.')):
            continue  # aliases of the wrapped layers
        if 'gated_cross_attn_layer.' in name or 'lora_' in name:
            continue
        base[name.replace('.decoder_layer.', '.').replace('.base_layer.', '.')] = value
    plain.load_state_dict(base, strict=True)
    plain.eval()
    ids = vl_prompt(model)
    expected = plain(input_ids=ids).logits
    got = model(lang=dict(input_ids=ids), mode='tensor')['lang']
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # and the cross-attention is back on afterwards
    assert not any(layer.skip_cross_attn for layer in model.lang_encoder._get_decoder_layers())


@torch.no_grad()
def test_cached_generation_matches_uncached_and_keeps_seeing_the_image():
    model = _sensitive_model()
    ids = vl_prompt(model)
    args = dict(max_new_tokens=16, min_new_tokens=16, do_sample=False)
    cached = model.generate(ids, images=_image(0), use_cache=True, **args)
    uncached = model.generate(ids, images=_image(0), use_cache=False, **args)
    assert cached.shape == (1, 16)
    assert torch.equal(cached, uncached)
    other = model.generate(ids, images=_image(1), use_cache=True, **args)
    assert not torch.equal(cached, other), 'a different image must change the generation'


@torch.no_grad()
def test_cached_steps_attend_to_the_image_not_only_the_prompt():
    """Logits of a cached decoding step equal a full forward over the same tokens."""
    model = _sensitive_model()
    ids = vl_prompt(model)
    image = _image(0)
    new = model.generate(ids, images=image, max_new_tokens=6, min_new_tokens=6,
                         use_cache=True)
    full = torch.cat([ids, new], dim=1)
    reference = model.logits(full, images=image)[0, -2].argmax()
    assert reference.item() == new[0, -1].item()
    # with another image, the full forward predicts something else at some step
    other = model.logits(full, images=_image(1))[0, ids.shape[1] - 1:-1].argmax(-1)
    assert not torch.equal(other, new[0])


@torch.no_grad()
def test_beam_search_and_language_only_generation_run():
    model = _sensitive_model()
    ids = vl_prompt(model)
    beams = model.generate(ids, images=_image(0), max_new_tokens=5, min_new_tokens=5,
                           num_beams=3)
    assert beams.shape == (1, 5)
    text_only = model.generate(ids, max_new_tokens=5, min_new_tokens=5)
    assert text_only.shape == (1, 5)


@torch.no_grad()
def test_predict_mode_decodes_text():
    model = _sensitive_model()
    ids = vl_prompt(model)
    out = model(vl=dict(input_ids=ids, images=_image(0)), mode='predict')
    assert isinstance(out['vl'][0], str)


def test_gate_init_opens_every_cross_attention_gate():
    model = build_tiny(cross_attn_gate_init=1.5)
    gates = {n: p.item() for n, p in model.named_parameters() if n.endswith('_gate')}
    assert gates and set(gates.values()) == {1.5}
    assert {p.item() for n, p in build_tiny().named_parameters() if n.endswith('_gate')} == {0.0}
