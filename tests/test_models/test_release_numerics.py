"""The release's numerics as options: the v1 media attention rule and its chat prompt."""
import pytest
import torch
from einops import rearrange

from mmgpt.models.flamingo_lm import _cross_attn_following
from mmgpt.templates import chat_prompt, render, segments_to_text
from mmgpt.testing import build_tiny, open_gates, randomize_lora, vl_prompt


def _v1_block(block, x, media, media_locations):
    """open_flamingo v1's gated cross-attention with attend_previous=False, written out
    from the rule in the MultiModal-GPT release's helpers.py (the reference)."""
    attn, (_, t_img, n) = block.attn, media.shape[:3]
    q = attn.to_q(attn.norm(x))
    k, v = attn.to_kv(rearrange(media, 'b t n d -> b (t n) d')).chunk(2, dim=-1)
    q, k, v = (rearrange(t, 'b n (h d) -> b h n d', h=attn.heads) for t in (q, k, v))
    sim = (q * attn.scale) @ k.transpose(-1, -2)
    text_time = media_locations.cumsum(-1)
    text_time[~media_locations] += 1
    text_time[text_time > media_locations.sum(-1, keepdim=True)] = 0
    media_time = (torch.arange(t_img) + 1).repeat_interleave(n)
    mask = text_time[:, None, :, None] == media_time[None, None, None, :]
    sim = sim.masked_fill(~mask, -torch.finfo(sim.dtype).max)
    weights = (sim - sim.amax(-1, keepdim=True)).softmax(-1)
    weights = weights.masked_fill((text_time == 0)[:, None, :, None], 0.0)
    out = attn.to_out(rearrange(weights @ v, 'b h n d -> b n (h d)'))
    x = out * block.attn_gate.tanh() + x
    return block.ff(x) * block.ff_gate.tanh() + x


def test_following_rule_equals_the_v1_code():
    model = build_tiny(media_attention='following')
    open_gates(model)
    randomize_lora(model)
    block = model.lang_encoder.model.layers[3].gated_cross_attn_layer
    torch.manual_seed(0)
    x, media = torch.randn(2, 12, 64), torch.randn(2, 2, 8, 32)
    loc = torch.zeros(2, 12, dtype=torch.bool)
    loc[0, [3, 8]] = True  # two images: text before, between and after them
    loc[1, [0]] = True  # one image first (the second image is not referenced)
    with torch.no_grad():
        ours = _cross_attn_following(block, x, media, loc, use_cached_media=False)
        ref = _v1_block(block, x, media, loc.clone())
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
        # cached decoding steps come after the last image: no image, as in v1
        step = x[:, -1:]
        torch.testing.assert_close(
            _cross_attn_following(block, step, media, loc, use_cached_media=True),
            _v1_block(block, step, media, torch.zeros(2, 1, dtype=torch.bool)))
        preceding = block(x, media, media_locations=loc)
        assert not torch.allclose(preceding, ours, atol=1e-3)


def test_following_rule_in_the_model_changes_logits_and_is_checked():
    image = torch.randn(1, 3, 32, 32)
    logits = {}
    for rule in ('preceding', 'following'):
        model = build_tiny(media_attention=rule)
        open_gates(model)
        with torch.no_grad():
            logits[rule] = model.logits(vl_prompt(model), images=image)
    assert not torch.allclose(logits['preceding'], logits['following'], atol=1e-4)
    with pytest.raises(ValueError, match='media_attention must be one of'):
        build_tiny(media_attention='next')


def test_release_chat_prompt_has_no_eos_after_earlier_answers():
    conv = dict(image='x.png', turns=[dict(instruction='Q1', input='', response='A1'),
                                      dict(instruction='Q2', input='', response=None)])
    ours = segments_to_text(chat_prompt(conv, 'mmgpt'))
    release = segments_to_text(chat_prompt(conv, 'mmgpt_release_v0'))
    assert 'A1<EOS>\n\n### Instruction:\nQ2' in ours
    assert release == ours.replace('A1<EOS>', 'A1') and release.count('<BOS>') == 1
    conv['turns'][1]['response'] = 'A2'  # training text keeps every EOS
    assert render(conv, 'mmgpt_release_v0') == render(conv, 'mmgpt')
